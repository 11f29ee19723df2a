"""Fixtures of the end-to-end tests: a downstream server, the test policy and the app on devhost."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from devhost.testing import run_host
from tests.e2e.case_harness import REPO, CaseClient, app_settings, write_policy
from tests.fixtures.downstream import Downstream, DownstreamServer


@dataclass
class App:
    """A running app: ``client`` for HTTP, ``host`` (HostThread, ``host.clock`` is virtual), the
    ``downstream`` receiver state and the app ``settings``."""

    client: CaseClient
    host: Any
    downstream: Downstream
    settings: dict[str, str]


@pytest.fixture
def downstream() -> Iterator[Downstream]:
    """A local webhook receiver + GitHub statuses API that honours Idempotency-Key."""
    with DownstreamServer() as state:
        yield state


@pytest.fixture
def app(azurite, downstream, tmp_path) -> Iterator[App]:
    """The case workflow app on an in-process devhost with the manual virtual clock."""
    policy = write_policy(tmp_path / "policy.json", downstream.url)
    settings = app_settings(azurite, policy, downstream.url)
    with run_host(REPO, data_dir=tmp_path / "data", clock="virtual-manual", settings=settings) as host:
        yield App(CaseClient(host.base_url), host, downstream, settings)
