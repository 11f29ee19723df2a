"""One HTTP call of an adapter, with its failure sorted into "retry later" or "give up".

Shared by the HTTP adapters (``webhook.py``, ``github.py``): a timeout, a connection failure, a 5xx or a 429
is :class:`TransientAdapterError` (the orchestrator's retry policy runs the apply again; 429 per
https://www.rfc-editor.org/rfc/rfc6585#section-4); any other 4xx is :class:`PermanentAdapterError`.

Each transient error says whether the downstream is known to be untouched (``not_applied``): a connection
that never opened, a read (GET/HEAD), or an answer that says the request was not processed (429, 503 per
https://www.rfc-editor.org/rfc/rfc9110#section-15.6.4). Then the ledger releases its claim at once; any
other failure (a read timeout on a POST, a 500) is an unknown outcome, safe only through the idempotency
key the downstream honours or the adapter's reconcile read.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from shared.adapters.errors import InvalidActionRequest, PermanentAdapterError, TransientAdapterError

#: Methods that never change the downstream (a failed read leaves nothing applied).
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Statuses that say the request was not processed: 429 Too Many Requests, 503 Service Unavailable.
_NOT_PROCESSED = frozenset({429, 503})


_CLIENTS: dict[tuple[Any, ...], httpx.Client] = {}
_CLIENTS_LOCK = threading.Lock()


@contextlib.contextmanager
def client_for(
    timeout_s: float, transport: httpx.BaseTransport | None = None, headers: Mapping[str, str] | None = None
) -> Iterator[httpx.Client]:
    """The httpx client of one adapter call. Without ``transport`` it is built once per process per
    (timeout, headers) and kept open, so calls reuse its connections and its SSL context (building a client
    loads the CA bundle: it was the single largest cost of a GitHub apply, issue 15); an httpx client "can
    be shared between threads" (its docstring, httpx 0.28). It keeps no cookies, so no call sees another's.
    With a ``transport`` (tests) a fresh client is closed after the call."""
    if transport is not None:
        with httpx.Client(timeout=timeout_s, transport=transport, headers=headers) as fresh:
            yield fresh
        return
    key = (timeout_s, tuple(sorted((headers or {}).items())))
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            # no cookie jar to share: each call stays as stateless as with a client of its own
            no_cookies = http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            client = _CLIENTS[key] = httpx.Client(timeout=timeout_s, headers=headers, cookies=no_cookies)
    yield client


def require_http_url(tool: str, parameters: dict[str, Any], parameter: str, message: str) -> str:
    """``parameters[parameter]`` when it is an ``http://`` or ``https://`` URL string.

    Raises :class:`InvalidActionRequest` (naming ``parameter``, with ``message``) otherwise.
    """
    url = parameters.get(parameter)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidActionRequest(tool, parameter, message)
    return url


def send(
    client: httpx.Client,
    tool: str,
    method: str,
    url: str,
    *,
    subject: str,
    peer: str,
    timeout_text: str,
    **kwargs: Any,
) -> httpx.Response:
    """``client.request(method, url, **kwargs)``; the response when its status is below 400.

    The error messages (prefixed ``{tool}: `` by :class:`AdapterError`) are ``timeout_text`` on a timeout,
    ``cannot reach {peer}: {exc}`` on another transport error, ``{subject} answered {status}`` on 5xx/429
    (:class:`TransientAdapterError`) and ``{subject} refused with {status}`` on other 4xx
    (:class:`PermanentAdapterError`, ``status_code`` set). Each is chained from the httpx exception.
    """
    read_only = method.upper() in _READS
    try:
        response = client.request(method, url, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # nothing was sent
        raise TransientAdapterError(tool, f"cannot reach {peer}: {exc}", not_applied=True) from exc
    except httpx.TimeoutException as exc:
        raise TransientAdapterError(tool, timeout_text, not_applied=read_only) from exc
    except httpx.TransportError as exc:
        raise TransientAdapterError(tool, f"cannot reach {peer}: {exc}", not_applied=read_only) from exc
    if response.status_code >= 500 or response.status_code == 429:
        untouched = read_only or response.status_code in _NOT_PROCESSED
        raise TransientAdapterError(
            tool, f"{subject} answered {response.status_code}", not_applied=untouched
        )
    if response.status_code >= 400:
        status = response.status_code
        raise PermanentAdapterError(tool, f"{subject} refused with {status}", status)
    return response
