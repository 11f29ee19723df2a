"""Orchestration versions (``orchestrations/versions.py``): host.json stamps the current one; instances
started before versioning (``""``) keep scheduling what their histories recorded."""

from __future__ import annotations

import json

import pytest

from orchestrations import names, versions
from tests.e2e.case_harness import REPO
from tests.unit.orchestrations.orch_fixtures import Effects, case_sim, event


def test_host_json_stamps_the_current_version_and_accepts_older_ones():
    durable = json.loads((REPO / "host.json").read_text())["extensions"]["durableTask"]
    assert durable["defaultVersion"] == versions.CURRENT
    assert durable.get("versionMatchStrategy", "CurrentOrOlder") == "CurrentOrOlder"


def test_major_version_of_an_instance():
    assert versions.major("") == 1 and versions.major(None) == 1
    assert versions.major(versions.CURRENT) == 2
    with pytest.raises(ValueError):
        versions.major("99.0")


def test_version_1_flushes_audit_through_record_audit_and_version_2_in_the_step():
    """Same audit records, same order; version 2 schedules no ``record_audit``."""
    runs = {}
    for version in ("", versions.CURRENT):
        effects = Effects()
        sim = case_sim(event("order.cancel", amount=20), effects, version=version)
        sim.run()
        assert sim.output["status"] == "completed"
        runs[version] = (sim.activity_names(), [(r["record_id"], r["kind"]) for r in effects.audited])
    (old_names, old_audit), (new_names, new_audit) = runs[""], runs[versions.CURRENT]
    assert names.RECORD_AUDIT in old_names and names.RECORD_AUDIT not in new_names
    assert [n for n in old_names if n != names.RECORD_AUDIT] == new_names
    assert old_audit == new_audit and old_audit
