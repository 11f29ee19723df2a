"""Loading function_app.py and host configuration: indexing, and every error message a user can meet."""

import sys
from pathlib import Path

import pytest

from devhost.config import HostConfig
from devhost.errors import AppLoadError, ConfigError
from devhost.functions.loader import load_app, unload_app
from devhost.testing import HostThread
from tests.fixtures.paths import APPS


def load_error(name: str) -> str:
    with pytest.raises(AppLoadError) as info:
        load_app(APPS / name)
    return str(info.value)


def test_functions_are_indexed_with_blueprints_in_registration_order() -> None:
    """get_functions() order: blueprint functions registered first, then the app's own."""
    loaded = load_app(APPS / "http_basic")
    try:
        names = [f.name for f in loaded.functions]
        assert names[:2] == ["named_output", "Renamed_Function"]
        assert "hello" in names and "slow_async" in names
        hello = loaded.function("HELLO")
        assert hello is not None and hello.trigger_type == "httpTrigger"
        assert hello.trigger["route"] == "hello/{name}" and hello.trigger["methods"] == ["GET"]
        assert [b["name"] for b in hello.bindings] == ["req", "$return"]
        assert hello.parameters == ["req"] and not hello.is_async
        assert loaded.function("fast_async").is_async
    finally:
        unload_app(loaded)


def test_apps_load_one_after_another_in_one_process() -> None:
    """Each load gets a fresh function_app module; unloading restores sys.path and sys.modules."""
    first = load_app(APPS / "http_basic")
    assert "blueprint" in sys.modules
    unload_app(first)
    assert "blueprint" not in sys.modules and str(APPS / "http_basic") not in sys.path
    second = load_app(APPS / "http_routes")
    assert sys.modules["function_app"].__file__ == str(APPS / "http_routes" / "function_app.py")
    assert second.function("order_by_id") is not None
    third = load_app(APPS / "http_basic")  # without unloading the previous one
    assert "more_routes" not in sys.modules
    assert third.function("hello") is not None
    unload_app(third)


def test_unloading_keeps_an_app_directory_that_was_already_on_sys_path(monkeypatch) -> None:
    """An app directory already importable before the load (the checkout itself, when the test session
    runs the app) stays on ``sys.path`` after unloading: the session keeps its own import root."""
    app_dir = str(APPS / "http_routes")
    monkeypatch.setattr(sys, "path", [*sys.path, app_dir])
    loaded = load_app(APPS / "http_routes")
    assert sys.path[0] == app_dir
    unload_app(loaded)
    assert app_dir in sys.path


def test_missing_function_app_py() -> None:
    """No function_app.py: the message names the file and the --app-dir option."""
    message = load_error("broken_no_script")
    assert "broken_no_script/function_app.py not found" in message
    assert "--app-dir" in message


def test_exception_while_importing_shows_its_traceback() -> None:
    """An exception inside function_app.py is reported with its type, message and user traceback."""
    message = load_error("broken_import")
    assert "importing it raised ModuleNotFoundError: No module named 'helpers'" in message
    assert 'broken_import/function_app.py", line 4, in <module>' in message
    assert "devhost/functions/loader.py" not in message


def test_no_app_object() -> None:
    """Without a module-level FunctionApp/DFApp the loader says what to define."""
    message = load_error("broken_no_app")
    assert "could not find a top-level function app instance (func.FunctionApp or df.DFApp)" in message


def test_two_app_objects() -> None:
    """Two FunctionRegister instances are refused, as by the Python worker."""
    assert "more than one top-level function app instance" in load_error("broken_two_apps")


def test_route_conflicting_with_admin() -> None:
    """Routes under admin/ or runtime/ are reserved by the host."""
    message = load_error("broken_route_admin")
    assert "function 'users': the specified route conflicts with one or more built in routes" in message


def test_duplicate_route_with_overlapping_methods() -> None:
    """Same route text (case and slashes ignored) with a shared method is a conflict."""
    message = load_error("broken_route_conflict")
    assert "function 'second': the route specified conflicts with the route defined by function 'first'" \
        in message


def test_parameter_without_binding() -> None:
    """A Python parameter no binding declares fails indexing (python-worker functions.py)."""
    message = load_error("broken_params")
    assert "the following parameters are declared in Python but not in the bindings: ['mystery']" in message


def test_invalid_function_name() -> None:
    """Function names must start with a letter (host Utility.IsValidFunctionName)."""
    assert "function '1st-function': the function name is invalid" in load_error("broken_name")


def test_duplicate_function_name() -> None:
    """The library's own unique-name check surfaces as an AppLoadError."""
    assert "Function same does not have a unique function name" in load_error("broken_duplicate_name")


def test_host_json_without_version() -> None:
    """host.json must carry version 2.0."""
    with pytest.raises(ConfigError, match="missing the required 'version' property"):
        HostConfig.load(APPS / "broken_host_json", environ={})


def test_host_json_not_json(tmp_path: Path) -> None:
    """Invalid JSON in host.json is refused with the host's wording."""
    (tmp_path / "host.json").write_text("{version: 2.0")
    with pytest.raises(ConfigError, match="Unable to parse host configuration file"):
        HostConfig.load(tmp_path, environ={})


def test_host_json_wrong_version(tmp_path: Path) -> None:
    """A 1.x host.json is refused."""
    (tmp_path / "host.json").write_text('{"version": "1.0"}')
    with pytest.raises(ConfigError, match=r'"version" must be "2.0" \(found \'1.0\'\)'):
        HostConfig.load(tmp_path, environ={})


def test_encrypted_local_settings() -> None:
    """IsEncrypted: true cannot be decrypted locally: refused with a fix."""
    with pytest.raises(ConfigError, match="IsEncrypted is true; devhost cannot decrypt settings"):
        HostConfig.load(APPS / "broken_encrypted", environ={})


def test_local_settings_never_override_the_environment(tmp_path: Path) -> None:
    """Values fill in missing variables only."""
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    (tmp_path / "local.settings.json").write_text('{"IsEncrypted": false, "Values": {"A": "file", "B": 2}}')
    env = {"A": "env"}
    config = HostConfig.load(tmp_path, environ=env)
    assert env == {"A": "env"}, "loading reads, it never writes the environment"
    assert config.setting("A") == "env" and config.setting("B") == "2"
    config.export_settings({"WEBSITE_HOSTNAME": "localhost:1"})
    assert env == {"A": "env", "B": "2", "WEBSITE_HOSTNAME": "localhost:1"}


def test_host_thread_reports_load_errors_and_restores_the_environment(tmp_path: Path) -> None:
    """A failing start raises the AppLoadError and leaves os.environ as it was."""
    import os

    before = dict(os.environ)
    with pytest.raises(AppLoadError, match="could not find a top-level function app"):
        HostThread(APPS / "broken_no_app", data_dir=tmp_path, settings={"DEVHOST_TEST_X": "1"}).start()
    assert dict(os.environ) == before


def test_loading_an_app_that_contains_devhost_keeps_devhost_modules() -> None:
    """The repository root is an app dir holding devhost itself: its modules are never dropped."""
    import devhost.host
    from devhost.testing import REPO_ROOT

    root = load_app(REPO_ROOT)
    assert root.function("health") is not None
    assert not any(name.startswith("devhost") for name in root.module_names)
    unload_app(load_app(APPS / "http_basic"))
    unload_app(root)
    assert sys.modules["devhost.host"] is devhost.host
