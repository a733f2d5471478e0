"""Suite-wide pytest options.

`--port PORT`: run the tests marked `hardware` against a real dowel on that serial port
(`pytest -m hardware --port /dev/ttyUSB0`); without it they are skipped.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser):
    parser.addoption(
        "--port",
        default=None,
        help="serial port of a real dowel, for the tests marked `hardware`",
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--port"):
        return
    skip = pytest.mark.skip(reason="needs a real dowel: pass --port PORT")
    for item in items:
        if "hardware" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def hardware_port(request) -> str:
    """The --port of the real dowel under test."""
    return request.config.getoption("--port")
