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
    assert versions.major(versions.CURRENT) == 4
    with pytest.raises(ValueError):
        versions.major("99.0")


def test_each_version_schedules_what_its_histories_recorded():
    """Same audit records in the same order, same outcome, whatever the version; version 1 flushes them
    through ``record_audit``, 2.0 in the steps, 3.0 also loads the policy in ``classify_case``, 4.0 has
    ``decide_policy`` append the records up to ``classified``."""
    runs = {}
    for version in ("", "2.0", "3.0", versions.CURRENT):
        effects = Effects()
        sim = case_sim(event("order.cancel", amount=20), effects, version=version)
        sim.run()
        assert sim.output["status"] == "completed"
        assert sim.custom_status["policyVersion"] == "2026-12-07.1"
        runs[version] = (sim.activity_names(), [(r["record_id"], r["kind"]) for r in effects.audited])
    (v1, audit1), (v2, audit2), (v3, audit3) = runs[""], runs["2.0"], runs["3.0"]
    v4, audit4 = runs[versions.CURRENT]
    assert v1[0] == v2[0] == names.LOAD_POLICY and v3[0] == names.CLASSIFY_CASE
    assert names.RECORD_AUDIT in v1 and names.RECORD_AUDIT not in v2
    assert [n for n in v1 if n != names.RECORD_AUDIT] == v2 == [names.LOAD_POLICY, *v3]
    assert v4 == v3 and audit1 == audit2 == audit3 == audit4 and audit1
