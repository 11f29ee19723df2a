"""context.call_http made by the host (devhost/durable/http_task.py) over real HTTP, on an in-process devhost
with tests/apps/durable_http_app (its own HTTP triggers are the endpoints called) and a virtual clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from devhost.clock import VirtualClock
from devhost.durable import http_task
from devhost.testing import run_host
from tests.devhost.durable.host.conftest import APPS, START, Engine

HTTP_APP = APPS / "durable_http_app"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    clock = VirtualClock(START, auto_advance=True)
    with run_host(HTTP_APP, data_dir=tmp_path_factory.mktemp("http"), clock=clock,
                  settings={http_task.TOKEN_SETTING: "local-token"}) as host:
        yield Engine(host)


def call(engine: Engine, **request: object) -> dict:
    state = engine.wait(engine.start("http_call", json.dumps(request)))
    assert state.runtime_status == "Completed", state.output
    return json.loads(state.output or "")


def test_get_post_put_delete(engine: Engine) -> None:
    """Status, response headers and body come back DurableHttpResponse-shaped; method, headers and
    content go out as given (the SDK JSON-encodes dict content)."""
    url = f"{engine.host.base_url}/api/echo"
    got = call(engine, method="GET", url=url, headers={"X-Trace": "abc"})
    assert got["statusCode"] == 200
    assert got["headers"]["x-reply"] == "yes"
    assert "content-type" not in got["headers"]  # content headers are not response headers (.NET)
    assert json.loads(got["content"]) == {"method": "GET", "headers": {"x-trace": "abc"}, "body": None}
    posted = call(engine, method="POST", url=url, content={"a": 1},
                  headers={"Content-Type": "application/json"})
    assert json.loads(posted["content"])["body"] == '{"a": 1}'
    assert json.loads(posted["content"])["headers"]["content-type"] == "application/json"
    put = call(engine, method="PUT", url=url, content="plain")
    assert put["statusCode"] == 201
    assert json.loads(put["content"])["body"] == '"plain"'
    assert json.loads(put["content"])["headers"]["content-type"] == "text/plain; charset=utf-8"
    assert json.loads(call(engine, method="DELETE", url=url)["content"])["method"] == "DELETE"


def test_202_location_polling_waits_on_the_virtual_clock(engine: Engine) -> None:
    """POST → 202 (Retry-After 600 s, Location step 1) → 202 → 200: completes after 2 × 600 s of host
    clock, which a virtual clock skips in milliseconds of wall time."""
    before = engine.clock.now()
    got = call(engine, method="POST", url=f"{engine.host.base_url}/api/job/0")
    assert got["statusCode"] == 200 and got["content"] == "done"
    assert engine.clock.now() - before >= timedelta(seconds=1200)


def test_call_http_then_activity(engine: Engine) -> None:
    """Sequence numbers of a call_http and the next activity line up on replay."""
    iid = engine.start("http_then_activity", json.dumps(f"{engine.host.base_url}/api/job/2"))
    assert json.loads(engine.wait(iid).output or "") == [200, "DONE"]


def test_managed_identity_token_from_local_setting(engine: Engine) -> None:
    """A token_source uses the DEVHOST_MANAGED_IDENTITY_TOKEN setting as the bearer token."""
    got = call(engine, method="GET", url=f"{engine.host.base_url}/api/echo", managed_identity=True)
    assert json.loads(got["content"])["headers"]["authorization"] == "Bearer local-token"


def test_errors_fail_the_task(engine: Engine) -> None:
    """An unreachable endpoint fails the call_http task, so the orchestrator fails naming it."""
    iid = engine.start("http_call", json.dumps({"method": "GET", "url": "http://127.0.0.1:9/nothing"}))
    state = engine.wait(iid)
    assert state.runtime_status == "Failed"
    assert "Durable HTTP request GET http://127.0.0.1:9/nothing failed" in (state.output or "")


def test_no_token_provider_is_a_clear_error() -> None:
    """Without the local token setting a token source answers 'not available locally'."""
    spec = http_task.HttpRequestSpec.from_input(json.dumps({
        "method": "GET", "uri": "https://management.azure.com/subscriptions",
        "tokenSource": {"resource": "https://management.core.windows.net/", "kind": "AzureManagedIdentity"},
    }))

    async def run() -> None:
        async with httpx.AsyncClient() as client:
            await http_task.call(spec, clock=VirtualClock(START), client=client, token_for=lambda _r: None)

    with pytest.raises(http_task.DurableHttpError, match="is not available locally"):
        asyncio.run(run())
