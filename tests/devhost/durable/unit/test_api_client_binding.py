"""The durableClient binding JSON is what the SDK's DurableOrchestrationClient is built from (no server)."""

from __future__ import annotations

import json

import azure.durable_functions as df
import azure.functions as func

from devhost.durable.client_binding import binding_json


class _Hub:
    name = "ApiTestHub"


def test_binding_json_builds_the_sdk_client() -> None:
    """The SDK parses the binding and points every RPC call at devhost's webhook routes."""
    client = df.DurableOrchestrationClient(binding_json(_Hub(), "http://127.0.0.1:7071", {}))
    bindings = client._orchestration_bindings
    assert bindings.task_hub_name == "ApiTestHub"
    assert bindings.rpc_base_url == "http://127.0.0.1:7071/runtime/webhooks/durabletask/"
    assert client._get_start_new_url("i1", "hello") == \
        "http://127.0.0.1:7071/runtime/webhooks/durabletask/orchestrators/hello/i1"


def test_binding_keys_match_the_extension() -> None:
    """creationUrls/managementUrls carry the extension's placeholders; rewindPostUri is included."""
    data = json.loads(binding_json(_Hub(), "http://127.0.0.1:7071/", {"connectionName": "MyStorage"}))
    assert data["creationUrls"]["createNewInstancePostUri"] == \
        "http://127.0.0.1:7071/runtime/webhooks/durabletask/orchestrators/{functionName}[/{instanceId}]"
    urls = data["managementUrls"]
    assert urls["id"] == "INSTANCEID"
    assert urls["statusQueryGetUri"] == ("http://127.0.0.1:7071/runtime/webhooks/durabletask/instances/"
                                         "INSTANCEID?taskHub=ApiTestHub&connection=MyStorage")
    assert urls["rewindPostUri"].endswith("/instances/INSTANCEID/rewind?reason={text}&taskHub=ApiTestHub"
                                          "&connection=MyStorage")
    assert data["baseUrl"] == "http://127.0.0.1:7071/runtime/webhooks/durabletask"
    assert data["requiredQueryStringParameters"] == ""


def test_check_status_response_uses_the_request_origin() -> None:
    """create_check_status_response swaps in the request's scheme://host and the raw instance id."""
    client = df.DurableOrchestrationClient(binding_json(_Hub(), "http://127.0.0.1:7071", {}))
    req = func.HttpRequest("POST", "http://localhost:8080/api/start", body=b"")
    response = client.create_check_status_response(req, "abc 1")
    body = json.loads(response.get_body())
    assert response.status_code == 202
    assert body["statusQueryGetUri"] == ("http://localhost:8080/runtime/webhooks/durabletask/instances/"
                                         "abc 1?taskHub=ApiTestHub&connection=Storage")
    assert response.headers["Location"] == body["statusQueryGetUri"]
    payload = client.create_http_management_payload("abc")
    assert payload["id"] == "abc"
    assert payload["terminatePostUri"].startswith("http://127.0.0.1:7071/runtime/webhooks/durabletask/"
                                                  "instances/abc/terminate?reason={text}")
