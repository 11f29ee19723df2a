"""devhost/durable/versioning.py: DTFx VersioningSettings.CompareVersions and the strategies, and their
host.json parsing (DurableOptions)."""

from __future__ import annotations

import pytest

from devhost.durable.options import DurableOptions
from devhost.durable.versioning import compare_versions, mismatch
from devhost.errors import ConfigError


@pytest.mark.parametrize(("a", "b", "sign"), [
    ("1.0.0", "1.0.0", 0), ("1.1.0", "1.0.0", 1), ("1.0.0", "1.1.0", -1),  # DTFx VersionSettingsTests
    ("1", "1", 0), ("2", "1", 1), ("1", "2", -1), ("", "1", -1), ("1", "", 1), ("", "", 0),
    (None, "1.0", -1), ("1.10", "1.9", 1),  # System.Version: numeric parts
    ("10", "9", -1),  # one part is no System.Version: ordinal string comparison, as in .NET
    ("1.0", "1.0.0", -1),  # an absent build part is -1
    ("v2", "V2", 0),  # case-insensitive
])
def test_compare_versions(a: str | None, b: str | None, sign: int) -> None:
    result = compare_versions(a, b)
    assert (result > 0) - (result < 0) == sign


def test_strategies() -> None:
    assert mismatch("Strict", "1.0", "2.0") and mismatch("Strict", "1.0", "0.9")
    assert not mismatch("Strict", "1.0", "1.0") and not mismatch("Strict", None, "")
    assert mismatch("CurrentOrOlder", "1.0", "2.0") and not mismatch("CurrentOrOlder", "1.0", "0.9")
    assert mismatch("CurrentOrOlder", None, "1.0")  # an unversioned host rejects versioned instances
    assert not mismatch("None", "1.0", "9.9")


def test_options_parse_and_validate() -> None:
    default = DurableOptions.from_mapping({})
    assert (default.version_match_strategy, default.version_failure_strategy) == ("CurrentOrOlder", "Reject")
    opts = DurableOptions.from_mapping({"versionMatchStrategy": "strict", "versionFailureStrategy": "FAIL"})
    assert (opts.version_match_strategy, opts.version_failure_strategy) == ("Strict", "Fail")
    assert DurableOptions.from_mapping({"versionMatchStrategy": 0}).version_match_strategy == "None"
    with pytest.raises(ConfigError, match="versionFailureStrategy 'Ignore' is invalid"):
        DurableOptions.from_mapping({"versionFailureStrategy": "Ignore"})
