"""Load a v2 programming-model app: import ``function_app.py`` and index its functions.

Mirrors the Python worker's indexing (``azure_functions_worker/loader.py`` ``index_function_app`` and
``functions.py`` ``add_indexed_function``) and the host's validation (``Utility.IsValidFunctionName``,
``ScriptHost.ValidateHttpFunction`` / ``HttpRoutesConflict``), see
docs/host-behaviour.md#loading-the-app:

* the app directory goes first on ``sys.path`` and the script is imported as module ``function_app``;
* the module must hold exactly one top-level ``FunctionRegister`` (``func.FunctionApp``, ``df.DFApp``,
  ``AsgiFunctionApp`` ...);
* ``app.get_functions()`` is called once (it is not idempotent: a second call fails the unique-name check);
* function names, binding names, Python parameters and HTTP routes are validated like the host does.

Every failure is an :class:`~devhost.errors.AppLoadError` whose message names the file and the cause.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from devhost.errors import AppLoadError
from devhost.functions.context import user_traceback
from devhost.functions.interfaces import FunctionInfo

SCRIPT_FILE = "function_app.py"
MODULE_NAME = "function_app"
_FUNCTION_NAME = re.compile(r"^[a-z][a-z0-9_\-]{0,127}$", re.IGNORECASE)
_BINDING_NAME = re.compile(r"^(?:\$return|(?!.*__)[A-Za-z_][A-Za-z0-9_]*)$")
ALL_METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS")


@dataclass
class LoadedApp:
    """The imported app: the ``FunctionRegister`` object, its indexed functions (registration order),
    and what :func:`unload_app` needs to undo the import (``sys.path`` entry, module names)."""

    app_dir: Path
    script: Path
    app: Any
    functions: list[FunctionInfo]
    module_names: list[str] = field(default_factory=list)
    modules: dict[str, ModuleType] = field(default_factory=dict)
    #: The app directory was on ``sys.path`` before the load (moved first): unloading keeps it there, so
    #: a test session whose checkout is also the app directory keeps its own import root.
    path_was_there: bool = False

    def function(self, name: str) -> FunctionInfo | None:
        """The function called ``name`` (case-insensitive, as the host looks names up), or None."""
        for f in self.functions:
            if f.name.lower() == name.lower():
                return f
        return None


def load_app(app_dir: Path | str, script_file: str = SCRIPT_FILE) -> LoadedApp:
    """Import ``<app_dir>/<script_file>`` and index its functions.

    Modules left over from earlier loads (``function_app`` and the modules those loads imported from their
    app directory) are dropped from ``sys.modules`` first, so a process (a test session) can load several
    apps one after another; a host still running keeps its own module objects. Raises AppLoadError
    (chained to the original exception).
    """
    app_dir = Path(app_dir).resolve()
    script = app_dir / script_file
    if not script.is_file():
        raise AppLoadError(
            f"{script} not found: devhost loads the app from {script_file} in the app directory "
            "(pass --app-dir DIR)"
        )
    _forget_modules(Path(script_file).stem)
    app_path = str(app_dir)
    path_was_there = app_path in sys.path
    if path_was_there:
        sys.path.remove(app_path)
    sys.path.insert(0, app_path)
    before = set(sys.modules)
    module_name = Path(script_file).stem
    try:
        spec = importlib.util.spec_from_file_location(module_name, script)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        _undo(app_path, _app_modules(app_dir, before, module_name), path_was_there)
        tb = user_traceback(exc)
        raise AppLoadError(f"{script}: importing it raised {type(exc).__name__}: {exc}\n{tb}") from exc
    modules = _app_modules(app_dir, before, module_name)
    loaded_names = sorted(modules)
    try:
        app = _find_app(module, script)
        try:
            functions = app.get_functions()
        except Exception as exc:
            raise AppLoadError(f"{script}: indexing the functions failed: {exc}") from exc
        infos = [build_function_info(f, app_dir) for f in functions]
        validate_functions(infos, script)
    except AppLoadError:
        _undo(app_path, modules, path_was_there)
        raise
    _LOADED.append(modules)
    return LoadedApp(app_dir, script, app, infos, loaded_names, modules, path_was_there)


def unload_app(loaded: LoadedApp) -> None:
    """Drop the app's modules from ``sys.modules`` (only where they are still this load's objects) and
    its directory from ``sys.path``."""
    _undo(str(loaded.app_dir), loaded.modules, loaded.path_was_there)
    if loaded.modules in _LOADED:
        _LOADED.remove(loaded.modules)


def _find_app(module: Any, script: Path) -> Any:
    from azure.functions.decorators.function_app import FunctionRegister

    apps = [v for v in vars(module).values() if isinstance(v, FunctionRegister)]
    if not apps:
        raise AppLoadError(
            f"{script}: could not find a top-level function app instance (func.FunctionApp or df.DFApp); "
            "define one at module level, e.g. app = func.FunctionApp()"
        )
    if len({id(a) for a in apps}) > 1:
        raise AppLoadError(
            f"{script}: more than one top-level function app instance is defined; keep exactly one "
            "and register the others as blueprints (app.register_functions(bp))"
        )
    return apps[0]


def build_function_info(function: Any, app_dir: Path) -> FunctionInfo:
    """Turn an ``azure.functions.decorators.function_app.Function`` into a :class:`FunctionInfo`.

    Settings (``retry_policy`` ...) come as ``{setting_name: dict}``; the ``function_name`` setting is
    applied to the name, not kept.
    """
    name = function.get_function_name()
    bindings = json.loads(function.get_function_json())["bindings"]
    trigger_name = function.get_trigger().get_dict_repr()["name"] if function.get_trigger() else None
    trigger = next((b for b in bindings if b.get("name") == trigger_name and "rigger" in b["type"]), None)
    if trigger is None:
        raise AppLoadError(f"function {name!r} has no trigger; every function needs exactly one trigger")
    handler = function.get_user_function()
    settings: dict[str, Any] = {}
    for setting in getattr(function, "_settings", []):
        if setting.setting_name != "function_name":
            settings[setting.setting_name] = setting.get_dict_repr()
    try:
        parameters = list(inspect.signature(handler).parameters)
    except (TypeError, ValueError) as exc:
        raise AppLoadError(f"function {name!r}: cannot read the Python signature ({exc})") from exc
    if trigger.get("type") == "httpTrigger" and not trigger.get("route"):
        trigger["route"] = name
    return FunctionInfo(
        name=name,
        trigger=trigger,
        bindings=bindings,
        handler=handler,
        is_async=inspect.iscoroutinefunction(handler),
        parameters=parameters,
        settings=settings,
    )


def validate_functions(functions: Sequence[FunctionInfo], script: Path) -> None:
    """Apply the host's and the worker's indexing checks; raise AppLoadError on the first failure."""
    for f in functions:
        where = f"{script}: function {f.name!r}"
        if not _FUNCTION_NAME.match(f.name) or f.name.lower() == "host":
            raise AppLoadError(
                f"{where}: the function name is invalid; names start with a letter and contain only "
                "letters, digits, '_' and '-' (at most 128 characters, not 'host')"
            )
        for b in f.bindings:
            if not _BINDING_NAME.match(str(b.get("name", ""))):
                raise AppLoadError(
                    f"{where}: the binding name {b.get('name')!r} is invalid. Please assign a valid name "
                    "to the binding (letters, digits and '_', starting with a letter or '_', no '__')."
                )
        _check_parameters(f, where)
    _check_routes(functions, script)


def _check_parameters(f: FunctionInfo, where: str) -> None:
    bound = {str(b["name"]) for b in f.bindings if b.get("name") != "$return"}
    params = set(f.parameters)
    if "context" in params and "context" not in bound:
        params.discard("context")
    if params - bound:
        raise AppLoadError(
            f"{where}: cannot load the function: the following parameters are declared in Python but "
            f"not in the bindings: {sorted(params - bound)}"
        )
    if bound - params:
        raise AppLoadError(
            f"{where}: cannot load the function: the following bindings are declared but are not "
            f"parameters of the Python function: {sorted(bound - params)}"
        )


def methods_of(trigger: Mapping[str, Any]) -> tuple[str, ...]:
    """HTTP methods a trigger accepts, upper-case; all of them when ``methods`` is absent or empty."""
    methods = trigger.get("methods") or ALL_METHODS
    return tuple(str(m).upper() for m in methods)


def _check_routes(functions: Sequence[FunctionInfo], script: Path) -> None:
    seen: list[tuple[str, set[str], str]] = []
    for f in functions:
        if f.trigger_type != "httpTrigger":
            continue
        route = str(f.trigger.get("route") or f.name).strip("/").lower()
        if route.startswith(("admin", "runtime")):
            raise AppLoadError(
                f"{script}: function {f.name!r}: the specified route conflicts with one or more built in "
                f"routes ({route!r} starts with 'admin' or 'runtime')"
            )
        methods = set(methods_of(f.trigger))
        for other_route, other_methods, other_name in seen:
            if other_route == route and methods & other_methods:
                raise AppLoadError(
                    f"{script}: function {f.name!r}: the route specified conflicts with the route defined "
                    f"by function {other_name!r}"
                )
        seen.append((route, methods, f.name))


def _forget_modules(script_module: str) -> None:
    """Drop the script module and every module earlier loads imported from their app directories."""
    sys.modules.pop(script_module, None)
    for modules in _LOADED:
        for name, module in modules.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
    _LOADED.clear()
    importlib.invalidate_caches()


def _app_modules(app_dir: Path, before: set[str], script_module: str) -> dict[str, ModuleType]:
    """The script module plus modules imported since ``before`` whose file lives under the app directory
    (never installed libraries, never devhost's own modules even when the app directory holds them)."""
    found: dict[str, ModuleType] = {}
    for name in set(sys.modules) - before:
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None)
        if module is not None and file and _is_under(Path(file), app_dir) and name.split(".")[0] != "devhost":
            found[name] = module
    if script_module in sys.modules:
        found[script_module] = sys.modules[script_module]
    return found


def _undo(app_path: str, modules: dict[str, ModuleType], keep_path: bool) -> None:
    for name, module in modules.items():
        if sys.modules.get(name) is module:
            del sys.modules[name]
    if app_path in sys.path and not keep_path:
        sys.path.remove(app_path)


def _is_under(path: Path, root: Path) -> bool:
    """True for app code under ``root``; never for installed libraries (a ``.venv`` inside the app)."""
    try:
        rel = path.resolve().relative_to(root)
    except (ValueError, OSError):
        return False
    return not ({"site-packages", "dist-packages"} & set(rel.parts)) and not rel.parts[0].startswith(".")


_LOADED: list[dict[str, ModuleType]] = []  # modules of loads not yet unloaded
