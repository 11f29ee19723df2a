"""host.json versionMatchStrategy / versionFailureStrategy enforced on orchestration work items (DTFx
TaskOrchestrationDispatcher semantics, devhost/durable/versioning.py), on an in-process devhost with the
fixture app tests/apps/durable_versioning_app (defaultVersion 1.0) and a virtual clock."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from devhost.clock import VirtualClock
from devhost.testing import run_host
from tests.devhost.durable.host.conftest import APPS, START, Engine

VERSIONING_APP = APPS / "durable_versioning_app"


@pytest.fixture
def make_engine(tmp_path: Path) -> Iterator[object]:
    """``make_engine(match, failure)``: devhost on a copy of the fixture app with those strategies."""
    hosts = []

    def make(match: str, failure: str) -> Engine:
        app = tmp_path / f"app-{match}-{failure}"
        shutil.copytree(VERSIONING_APP, app)
        host_json = json.loads((app / "host.json").read_text())
        host_json["extensions"]["durableTask"].update(versionMatchStrategy=match,
                                                      versionFailureStrategy=failure)
        (app / "host.json").write_text(json.dumps(host_json))
        ctx = run_host(app, data_dir=tmp_path / f"data-{match}-{failure}",
                       clock=VirtualClock(START, auto_advance=True))
        engine = Engine(ctx.__enter__())
        hosts.append(ctx)
        return engine

    yield make
    for ctx in hosts:
        ctx.__exit__(None, None, None)


def test_strict_fail_fails_a_newer_instance_without_running_it(make_engine, caplog) -> None:
    """Strict + Fail: a 2.0 instance on a 1.0 host fails with VersionMismatch (user code never runs);
    a 1.0 instance completes."""
    engine = make_engine("Strict", "Fail")
    with caplog.at_level(logging.INFO, logger="Host.General"):
        newer = engine.wait(engine.start("which_version", version="2.0"))
    assert newer.runtime_status == "Failed"
    assert json.loads(newer.output or "") == "Orchestration version did not comply with Worker Versioning"
    assert newer.failure_details is not None and newer.failure_details["ErrorType"] == "VersionMismatch"
    history = engine.run(engine.hub.get_history(newer.instance_id))
    assert not any(e.get("EventType") == 4 for e in history)  # no TaskScheduled: the code did not run
    lines = [r.getMessage() for r in caplog.records]
    assert f"{newer.instance_id}: Executing 'which_version' orchestration logic" in lines
    assert any(line.startswith(f"{newer.instance_id}: Orchestration completed with a 'Failed' status")
               for line in lines)
    current = engine.wait(engine.start("which_version"))
    assert current.runtime_status == "Completed"
    assert json.loads(current.output or "") == {"version": "1.0", "greeting": "ran as 1.0"}
    older = engine.wait(engine.start("which_version", version="0.9"))
    assert older.runtime_status == "Failed"  # Strict: older is a mismatch too


def test_reject_leaves_a_newer_instance_pending(make_engine, caplog) -> None:
    """CurrentOrOlder + Reject: a 2.0 instance stays Pending with its start message queued (abandoned,
    logged), while an older and a current instance complete; terminate still reaches it."""
    engine = make_engine("CurrentOrOlder", "Reject")
    with caplog.at_level(logging.WARNING, logger="Host.General"):
        newer = engine.start("which_version", version="2.0")
        assert engine.wait(engine.start("which_version", version="0.9")).runtime_status == "Completed"
        assert engine.wait(engine.start("which_version")).runtime_status == "Completed"
    assert engine.state(newer).runtime_status == "Pending"
    assert any(newer in r.getMessage() and "versionFailureStrategy Reject" in r.getMessage()
               for r in caplog.records)
    engine.run(engine.hub.terminate(newer, "cleanup"))
    assert engine.wait(newer).runtime_status == "Terminated"


def test_strategy_none_runs_any_version(make_engine) -> None:
    """None: versions are not compared."""
    engine = make_engine("None", "Fail")
    state = engine.wait(engine.start("which_version", version="7.0"))
    assert json.loads(state.output or "") == {"version": "7.0", "greeting": "ran as 7.0"}
