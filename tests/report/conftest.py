"""Fixtures: a private database (DOWEL_HOME in a temp dir) holding `weekdata.build_week`."""

from __future__ import annotations

import pytest

from host_tools.store import db
from tests.report.weekdata import build_week


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DOWEL_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def conn(home):
    c = db.connect()
    yield c
    c.close()


@pytest.fixture
def week(conn):
    return build_week(conn)
