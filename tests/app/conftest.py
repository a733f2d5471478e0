"""Fixtures for the app's tests: a private data dir and the app behind its gate, driven by
Starlette's TestClient (no server, no browser)."""

from __future__ import annotations

import pytest

PORT = 8123  # the port the gate believes it serves on (TestClient sends Host to match)


@pytest.fixture(autouse=True)
def dowel_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("DOWEL_HOME", str(home))
    return home


@pytest.fixture
def app_state():
    from host_tools.app.server import AppState

    return AppState(token="t0k3n-for-tests", port=PORT)


def client_for(state, *, logged_in: bool = True):
    from starlette.testclient import TestClient

    from host_tools.app.server import create_app

    client = TestClient(
        create_app(state), base_url=f"http://127.0.0.1:{PORT}", follow_redirects=False
    )
    if logged_in:
        answer = client.get(f"/?token={state.token}")
        assert answer.status_code == 303
    return client


@pytest.fixture
def client(app_state):
    return client_for(app_state)


ORIGIN = {"origin": f"http://127.0.0.1:{PORT}"}


@pytest.fixture
def no_ports(monkeypatch):
    import host_tools.board.ports as ports

    monkeypatch.setattr(ports, "list_ports", lambda *a, **k: [])
    monkeypatch.setattr(ports, "virtual_port", lambda: None)


DOWEL_PORT = "/dev/ttyUSB0"


@pytest.fixture
def one_dowel(monkeypatch):
    """One ESP32 bridge plugged in, at DOWEL_PORT; no virtual board."""
    import host_tools.board.ports as ports

    dowel = ports.PortInfo(DOWEL_PORT, "CP2102", "CP2102 USB to UART Bridge Controller")
    monkeypatch.setattr(ports, "list_ports", lambda *a, **k: [dowel])
    monkeypatch.setattr(ports, "virtual_port", lambda: None)
