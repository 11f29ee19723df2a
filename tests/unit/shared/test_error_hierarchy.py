"""One home for errors: every exception class the app defines derives from ``shared.case_errors.AppError``
(through a base per concern), every one devhost defines from ``devhost.errors.DevhostError``; the standard
bases they had before (``ValueError``, ``RuntimeError``) are kept, so existing ``except`` clauses still
catch them."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from devhost.errors import DevhostError
from shared.case_errors import AppError, ConfigurationError, DependencyError, InputError

#: Private signals that never leave their module (documented in shared/case_errors.py).
APP_EXEMPT = {"shared.policy._Unreadable", "shared.agent_judgment._Fallback"}
#: Implements the SDK's RpcException interface, never raised (documented in devhost/errors.py).
DEVHOST_EXEMPT = {"devhost.functions.context.RpcException"}


def exception_classes(packages: list[str]) -> list[type[BaseException]]:
    """Every exception class defined (not imported) in the modules of ``packages``."""
    found: list[type[BaseException]] = []
    for package in packages:
        module = importlib.import_module(package)
        names = [package]
        if hasattr(module, "__path__"):
            names += [m.name for m in pkgutil.walk_packages(module.__path__, package + ".")]
        for name in names:
            mod = importlib.import_module(name)
            found += [
                cls for _, cls in inspect.getmembers(mod, inspect.isclass)
                if issubclass(cls, BaseException) and cls.__module__ == name
            ]
    return found


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def test_every_app_exception_derives_from_app_error():
    classes = exception_classes(["shared", "activities", "orchestrations", "triggers"])
    assert len(classes) > 25
    outside = [_name(c) for c in classes if not issubclass(c, AppError) and _name(c) not in APP_EXEMPT]
    assert outside == []


def test_every_devhost_exception_derives_from_devhost_error():
    classes = exception_classes(["devhost"])
    outside = [
        _name(c) for c in classes if not issubclass(c, DevhostError) and _name(c) not in DEVHOST_EXEMPT
    ]
    assert outside == []


@pytest.mark.parametrize(
    ("error", "concern", "standard"),
    [
        ("shared.settings.SettingsError", ConfigurationError, ValueError),
        ("shared.decision_seal.SigningKeyMissing", ConfigurationError, RuntimeError),
        ("shared.identity.MalformedPrincipal", InputError, ValueError),
        ("shared.normalize.errors.PayloadTooLarge", InputError, Exception),
        ("shared.storage.StorageUnavailable", DependencyError, Exception),
        ("shared.adapters.errors.TransientAdapterError", DependencyError, Exception),
        ("triggers.case_source.CaseSourceError", DependencyError, RuntimeError),
    ],
)
def test_errors_sit_under_their_concern_and_keep_their_standard_base(error, concern, standard):
    module, _, name = error.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, concern) and issubclass(cls, standard)
    assert cls.__module__ == module  # the qualified name failures and spans report is unchanged
