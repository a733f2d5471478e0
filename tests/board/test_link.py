"""`Link.open` on real ports: a board that resets when its port opens loses the first Ctrl-C, so
entering the raw REPL is retried with a growing, bounded pause; a port that will not open gets
the hint for its cause. With fake transports: no board here."""

from __future__ import annotations

import errno

import pytest
from mpremote.transport import TransportError

from host_tools.board import link as link_mod
from host_tools.board import ports
from host_tools.board.link import Link
from host_tools.errors import DeviceError


class BootingBoard:
    """Answers the raw REPL only from attempt `answers_at` on (1-based), like a board still
    booting after the reset its port's opening caused."""

    def __init__(self, answers_at: int):
        self.answers_at = answers_at
        self.attempts: list[float] = []
        self.closed = False

    def enter_raw_repl(self, soft_reset=True, timeout_overall=10):
        assert soft_reset is False  # never restart a board that is running fine
        self.attempts.append(timeout_overall)
        if len(self.attempts) < self.answers_at:
            raise TransportError("could not enter raw repl")

    def close(self):
        self.closed = True


def open_with(board, **kwargs):
    slept: list[float] = []
    got = Link.open(
        "/dev/ttyUSB0", sleep=slept.append, transport_factory=lambda _p: board, **kwargs
    )
    return got, slept


def test_a_board_that_answers_at_once_is_not_retried():
    board = BootingBoard(answers_at=1)
    got, slept = open_with(board)
    assert got.transport is board and board.attempts == [link_mod.ENTER_TIMEOUT_S]
    assert slept == []


def test_a_board_that_reset_on_open_is_retried_with_growing_pauses():
    board = BootingBoard(answers_at=3)
    got, slept = open_with(board)
    assert got.transport is board and len(board.attempts) == 3 and not board.closed
    assert slept == [0.5, 1.0]


def test_retries_are_bounded_and_the_port_closed():
    board = BootingBoard(answers_at=99)
    with pytest.raises(DeviceError, match="does not answer like MicroPython.*tried 4 times"):
        open_with(board)
    assert len(board.attempts) == link_mod.CONNECT_ATTEMPTS and board.closed
    # Worst case before giving up, all attempts and pauses: bounded, about the old 10 s.
    worst = sum(board.attempts) + sum(link_mod.CONNECT_BACKOFF_S)
    assert worst <= 12


def test_a_port_that_will_not_open_gets_the_hint(monkeypatch):
    def refuse(_port):
        raise TransportError("failed to access /dev/ttyUSB0")

    real_hint = ports.open_failure_hint
    monkeypatch.setattr(ports, "_open_errno", lambda _p: errno.EACCES)  # what opening says
    monkeypatch.setattr(
        ports,
        "open_failure_hint",
        lambda port: real_hint(port, exists=lambda _p: True, platform="linux"),
    )
    with pytest.raises(DeviceError, match="cannot open /dev/ttyUSB0: .*dialout") as exc:
        Link.open("/dev/ttyUSB0", transport_factory=refuse)
    assert "\n" not in str(exc.value)
