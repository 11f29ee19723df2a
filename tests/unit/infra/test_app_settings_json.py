"""The template declares every app setting the code reads (or the data file documents it as optional), and the
security properties the issue asks for are in infra/main.bicep (checkov scans the rest in ``make checkov``).

The code is scanned, not trusted: environment reads with a literal name, ``*_SETTING`` constants, ``%NAME%``
binding expressions, ``connection="NAME"``, ``secret_setting(env, "NAME")`` and the literals of
``shared/settings.py``. Secret settings are read only through ``shared.secret_settings`` (an unresolved Key
Vault reference is not a secret). A new setting fails
this test until it is added to ``infra/app-settings.json`` (and to ``infra/main.bicep`` unless optional).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
INFRA = ROOT / "infra"
APP_CODE = ["function_app.py", "shared", "activities", "triggers", "orchestrations"]
NAME = r"[A-Za-z_][A-Za-z0-9_]*"
PATTERNS = [
    re.compile(
        rf"""(?:environ\.get|getenv|environ\.setdefault|environ\[|env\.get|env\[)\(?\s*["']({NAME})["']"""
    ),
    re.compile(rf"""\b[A-Z_]*SETTING[A-Z_]*\s*(?::\s*[\w\[\], |]+)?=\s*["']({NAME})["']"""),
    re.compile(rf"""["']%({NAME})%["']"""),
    re.compile(rf"""connection\s*=\s*["']({NAME})["']"""),
    re.compile(rf"""secret_setting\(\s*[\w.]+\s*,\s*["']({NAME})["']"""),
]
#: A direct read of a literal setting name (``os.environ.get("X")``, ``env["X"]``, ...), unless it only asks
#: whether the value is an unresolved Key Vault reference.
_READER = (
    r"""(?<!is_unresolved_reference\()"""
    r"""(?:os\.environ\.get|environ\.get|getenv|environ\[|env\.get|env\[|\btext)"""
)
DIRECT_READ = re.compile(rf"""{_READER}\(?\s*["']({NAME})["']""")
#: The same through a ``*SETTING*`` constant (``os.environ.get(FORM_KEY_SETTING)``).
CONSTANT_READ = re.compile(rf"""{_READER}\(?\s*([A-Z_]*SETTING[A-Z_]*)\b""")
CONSTANT = re.compile(rf"""\b([A-Z_]*SETTING[A-Z_]*)\s*(?::\s*[\w\[\], |]+)?=\s*["']({NAME})["']""")
SETTINGS_LITERAL = re.compile(r"""\(\s*["']((?:AzureWebJobs|[A-Z][A-Z0-9]*_)[A-Za-z0-9_]*)["']""")


def _python_files() -> list[Path]:
    files: list[Path] = []
    for entry in APP_CODE:
        path = ROOT / entry
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return files


def settings_read_by_code() -> dict[str, str]:
    """``{setting name: first file reading it}``."""
    found: dict[str, str] = {}
    for path in _python_files():
        text = path.read_text()
        names = [m for p in PATTERNS for m in p.findall(text)]
        if path.name == "settings.py" and path.parent.name == "shared":
            names += SETTINGS_LITERAL.findall(text)
        for name in names:
            if not name.endswith("_"):  # a prefix such as "CASE_", not a setting
                found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def documented() -> dict[str, dict[str, str]]:
    return json.loads((INFRA / "app-settings.json").read_text())["settings"]


def bicep() -> str:
    return (INFRA / "main.bicep").read_text()


def bicep_settings() -> set[str]:
    """Keys of the ``baseSettings`` and ``schedulerSettings`` objects of main.bicep."""
    text = bicep()
    keys: set[str] = set()
    for block in ("var baseSettings = {", "var schedulerSettings = useScheduler ? {"):
        body = text.split(block, 1)[1].split("\n}", 1)[0]
        keys.update(re.findall(rf"^\s*({NAME}):", body, re.MULTILINE))
    return keys


def test_the_scan_finds_the_known_settings():
    found = settings_read_by_code()
    assert {
        "AzureWebJobsStorage",
        "CASE_EVENTS_QUEUE",
        "GITHUB_WEBHOOK_SECRET",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "CASE_MAINTENANCE_SCHEDULE",
    } <= set(found)


def test_every_setting_the_code_reads_is_documented():
    docs = documented()
    missing = {n: f for n, f in settings_read_by_code().items() if n not in docs}
    assert not missing, (
        f"app settings read by the code but not in infra/app-settings.json (add them there and, unless "
        f"optional, to infra/main.bicep): {missing}"
    )


def test_template_sets_what_the_data_file_says_and_nothing_undocumented():
    docs = documented()
    in_template = bicep_settings()
    should = {n for n, d in docs.items() if d["set_by"] in ("template", "scheduler")}
    assert should - in_template == set(), "documented as set by the template but absent from main.bicep"
    assert in_template - set(docs) == set(), "set by main.bicep but not documented in infra/app-settings.json"
    assert {d["set_by"] for d in docs.values()} <= {"template", "optional", "scheduler", "platform"}


def test_secret_settings_are_read_only_through_the_reference_aware_reader():
    """Every app setting documented as a Key Vault reference or a key/secret/token is in
    shared.secret_settings.SECRET_SETTINGS (except the one the platform reads), and no app code reads one of
    those directly: a direct read would take unresolved reference text for the secret."""
    from shared.secret_settings import SECRET_SETTINGS

    platform_read = {"MICROSOFT_PROVIDER_AUTHENTICATION_SECRET"}  # App Service Authentication reads it
    secretish = re.compile(r"Key Vault reference|\bkey\b|\bsecret\b|\btoken\b|account key", re.IGNORECASE)
    documented_secrets = {
        name
        for name, doc in documented().items()
        if doc["set_by"] != "platform" and secretish.search(doc["description"]) and name not in platform_read
        and not name.startswith("AzureWebJobsStorage__")  # identity properties; clientSecret is covered
        and name not in {"APPLICATIONINSIGHTS_CONNECTION_STRING", "DURABLE_TASK_SCHEDULER_CONNECTION_STRING"}
    }
    assert documented_secrets <= set(SECRET_SETTINGS), documented_secrets - set(SECRET_SETTINGS)
    direct: set[tuple[str, str]] = set()
    for path in _python_files():
        text = path.read_text()
        constants = dict(CONSTANT.findall(text))
        names = DIRECT_READ.findall(text) + [constants.get(c, "") for c in CONSTANT_READ.findall(text)]
        direct.update((name, str(path.relative_to(ROOT))) for name in names if name in SECRET_SETTINGS)
    assert not direct, f"secret settings read without shared.secret_settings.secret_setting: {direct}"


def test_secrets_are_key_vault_references_and_storage_has_no_keys():
    text = bicep()
    for name in (
        "GITHUB_WEBHOOK_SECRET",
        "GITHUB_TOKEN",
        "CASE_DECISION_SIGNING_KEY",
        "CASE_CONSOLE_FORM_KEY",
        "MICROSOFT_PROVIDER_AUTHENTICATION_SECRET",
    ):
        assert re.search(rf"^\s*{name}: '@Microsoft\.KeyVault\(SecretUri=", text, re.MULTILINE), name
    assert "listKeys(" not in text and "AccountKey=" not in text
    assert "AzureWebJobsStorage:" not in text  # only the identity-based form
    for prop in (
        "allowSharedKeyAccess: false",
        "allowBlobPublicAccess: false",
        "minimumTlsVersion: 'TLS1_2'",
        "supportsHttpsTrafficOnly: true",
        "httpsOnly: true",
        "minTlsVersion: '1.2'",
        "ftpsState: 'Disabled'",
        "enableRbacAuthorization: true",
    ):
        assert prop in text, prop
    for role in (
        "storageBlobDataOwner",
        "storageQueueDataContributor",
        "storageTableDataContributor",
        "keyVaultSecretsUser",
        "durableTaskDataContributor",
    ):
        assert f"roles.{role})" in text, role


def test_flex_consumption_python_311_and_backend_parameter():
    text = bicep()
    assert "tier: 'FlexConsumption'" in text and "name: 'FC1'" in text
    assert re.search(r"runtime: \{\s*name: 'python'\s*version: '3\.11'", text)
    assert "param durableBackend string = 'AzureStorage'" in text
    assert (
        "Microsoft.DurableTask/schedulers@" in text and "Microsoft.DurableTask/schedulers/taskHubs@" in text
    )
    host = json.loads((ROOT / "host.json").read_text())
    hub = host["extensions"]["durableTask"]["hubName"]
    assert f"param taskHubName string = '{hub}'" in text


def test_sign_in_required_except_events_and_health_with_declared_app_roles():
    text = bicep()
    auth = text.split("name: 'authsettingsV2'", 1)[1]
    assert "requireAuthentication: true" in auth
    excluded = re.search(r"excludedPaths: \[(.*?)\]", auth, re.DOTALL)
    assert excluded and set(re.findall(r"'([^']+)'", excluded.group(1))) == {"/api/events", "/api/health"}
    roles = {r["value"] for r in json.loads((INFRA / "app-roles.json").read_text()) if r["isEnabled"]}
    assert {"approver", "admin", "auditor"} <= roles
    policy = yaml.safe_load((ROOT / "shared" / "policies" / "default.yaml").read_text())
    assert _roles_named(policy) and _roles_named(policy) <= roles, (
        "every role named by the policy must be an app role"
    )


def _roles_named(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {str(r) for r in node.get("roles", []) if isinstance(node.get("roles"), list)}
        return found.union(*(_roles_named(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_roles_named(v) for v in node))
    return set()


def test_azd_project_points_at_the_template():
    project = yaml.safe_load((ROOT / "azure.yaml").read_text())
    assert project["infra"]["path"] == "infra"
    service = project["services"]["app"]
    assert service["host"] == "function" and service["language"] == "python"
