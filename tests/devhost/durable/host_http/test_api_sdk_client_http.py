"""The SDK's client over real HTTP when the app setting DEVHOST_DURABLE_CLIENT_HTTP is true (otherwise its
calls to the host's own API are served in-process: devhost.durable.local_client)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devhost.durable import local_client
from tests.devhost.durable.host_http.conftest import APP_DIR
from tests.devhost.durable.host_http.durable_api_helpers import wait_status
from tests.devhost.durable.host_http.test_api_sdk_client import FINISHED, op


@pytest.fixture(scope="module")
def http_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from devhost.testing import run_host

    with run_host(APP_DIR, data_dir=tmp_path_factory.mktemp("durable-api-http"), clock="system",
                  settings={local_client.HTTP_SETTING: "true"}) as h:
        yield h


def test_client_calls_go_over_http_when_asked(http_host: Any) -> None:
    """start_new and get_status work over aiohttp (the SDK's session is opened) and the host is not
    registered for in-process calls."""
    from azure.durable_functions.models.utils import http_utils

    assert http_host.base_url not in local_client._hosts
    with httpx.Client(base_url=http_host.base_url, timeout=10) as http:
        iid = f"sdk-http-{uuid.uuid4().hex[:8]}"
        assert op(http, "start", body={"x": 1}, name="echo_input", id=iid) == {"id": iid}
        wait_status(http, iid, FINISHED)
        assert op(http, "status", "GET", id=iid)["runtimeStatus"] == "Completed"
    assert http_utils._client_session is not None
