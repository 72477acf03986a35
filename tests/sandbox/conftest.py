"""Fixtures: one sandbox served on a real local port (mounted under /sandbox, like the demo), and one
notification receiver; both live for the session, and the sandbox is reset before every test."""
from __future__ import annotations

import pytest
import requests
from .sandbox_support import Receiver, ServerThread

from panelpay.sandbox import Sandbox, create_app

#: One minute of the real retry schedules lasts 30 ms.
TIME_SCALE = 0.0005


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    sandbox = Sandbox(state_file=tmp_path_factory.mktemp("sandbox") / "state.json", time_scale=TIME_SCALE)
    yield sandbox
    sandbox.shutdown()


@pytest.fixture(scope="session")
def gateway_server(sandbox):
    server = ServerThread(create_app(sandbox, "/sandbox"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def base_url(gateway_server) -> str:
    return gateway_server.base_url + "/sandbox"


@pytest.fixture(scope="session")
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.stop()


@pytest.fixture(scope="session")
def configs(sandbox, base_url) -> dict:
    return sandbox.channel_configs(base_url)


@pytest.fixture(autouse=True)
def _fresh_sandbox(sandbox):
    sandbox.reset()
    yield


class _Session(requests.Session):
    """A session whose requests time out (a hung sandbox fails a test instead of stalling the run)."""

    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", 10)
        return super().request(*args, **kwargs)


@pytest.fixture
def http():
    with _Session() as session:
        yield session
