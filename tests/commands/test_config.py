"""`dowel config show|set` through the CLI, on a fake board running the real dowel.config
(tests/fakes/board.py)."""

import json

import pytest
from dowel import config as dconfig
from dowel import running

from host_tools import cli
from host_tools.board.link import Link
from tests.fakes.board import FakeBoard


@pytest.fixture
def board(tmp_path, monkeypatch):
    monkeypatch.setenv("DOWEL_HOME", str(tmp_path / "home"))
    running.drift = None
    link = Link(FakeBoard(tmp_path), "fake")
    monkeypatch.setattr(Link, "open", classmethod(lambda cls, port, **_kw: _ctx(link)))
    return link


def config_path(link) -> str:
    return str(link.transport.host_path(dconfig.PATH))


def config_writes(link) -> int:
    return link.transport.calls.count(("dowel.config", "write_json"))


class _ctx:
    def __init__(self, link):
        self.link = link

    def __enter__(self):
        return self.link

    def __exit__(self, *exc):
        return None


def test_set_changes_fields_and_reads_back(board, capsys):
    assert (
        cli.main(["config", "set", "loss_ms=150", "sensors.sacrum.off=9000", "--port", "x"]) == 0
    )
    cfg, reason = dconfig.read(config_path(board))
    assert reason is None and cfg["loss_ms"] == 150 and cfg["sensors"]["sacrum"]["off"] == 9000
    out = capsys.readouterr().out
    assert "loss_ms = 150" in out and "sensors.sacrum.off = 9000" in out


@pytest.mark.parametrize(
    "assignment, field, range_text",
    [
        ("loss_ms=5", "loss_ms", "from 20 to 1000"),
        ("regain_ms=99999", "regain_ms", "from 20 to 2000"),
        ("sensors.head.on=70000", "sensors.head.on", "from 0 to 65535"),
        ("drift_pct=1", "drift_pct", "from 5 to 90"),
        ("patient=a b", "patient", "1..32 characters"),
    ],
)
def test_out_of_range_is_refused_naming_field_and_range(
    board, capsys, assignment, field, range_text
):
    assert cli.main(["config", "set", assignment, "--port", "x"]) == 2
    err = capsys.readouterr().err
    assert field in err and range_text in err and "nothing written" in err
    assert board.transport.calls == []  # refused before the board was touched


def test_threshold_order_is_checked_against_the_boards_values(board, capsys):
    # off 16000 by default: on 15000 alone breaks 0 < off < on...
    assert cli.main(["config", "set", "sensors.head.on=15000", "--port", "x"]) == 2
    err = capsys.readouterr().err
    assert "sensors.head" in err and "0 < off < on" in err
    assert config_writes(board) == 0
    # ...but moving off first makes it fine.
    assert (
        cli.main(
            ["config", "set", "sensors.head.off=9000", "sensors.head.on=15000", "--port", "x"]
        )
        == 0
    )
    assert dconfig.read(config_path(board))[0]["sensors"]["head"] == {
        "on": 15000,
        "off": 9000,
        "level": 0,
    }


def test_every_bad_field_is_named(board, capsys):
    assert cli.main(["config", "set", "loss_ms=1", "arm_ms=0", "bogus=3", "--port", "x"]) == 2
    err = capsys.readouterr().err
    assert "loss_ms" in err and "arm_ms" in err and "bogus: unknown field" in err


def test_missing_equals_is_a_usage_error(board, capsys):
    assert cli.main(["config", "set", "loss_ms", "--port", "x"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_show_json_is_the_boards_config(board, capsys):
    assert cli.main(["config", "show", "--json", "--port", "x"]) == 0
    assert json.loads(capsys.readouterr().out) == dconfig.defaults()


def test_show_table_lists_dotted_keys(board, capsys):
    assert cli.main(["config", "show", "--port", "x"]) == 0
    out = capsys.readouterr().out
    assert "sensors.sacrum.on" in out and "loss_ms" in out


def reject(board, data=b'{"loss_ms": 5000, "patient": "P-0007"}'):
    with open(config_path(board), "wb") as f:
        f.write(data)
    return data


def test_set_on_a_rejected_config_refuses_naming_the_reason(board, capsys):
    data = reject(board)
    assert cli.main(["config", "set", "loss_ms=150", "--port", "x"]) == 2
    err = capsys.readouterr().err
    assert "nothing written" in err and "loss_ms: must be an integer from 20 to 1000" in err
    assert "--from-defaults" in err
    assert config_writes(board) == 0
    with open(config_path(board), "rb") as f:
        assert f.read() == data  # the rejected file is left for the PT to inspect


def test_set_from_defaults_repairs_a_rejected_config(board, capsys):
    reject(board, bytes(range(256)))
    assert (
        cli.main(
            ["config", "set", "--from-defaults", "loss_ms=150", "patient=P-0007", "--port", "x"]
        )
        == 0
    )
    cfg, reason = dconfig.read(config_path(board))
    assert reason is None
    assert cfg == dict(dconfig.defaults(), loss_ms=150, patient="P-0007")


def test_from_defaults_on_a_valid_config_starts_from_the_defaults(board, capsys):
    assert cli.main(["config", "set", "arm_ms=900", "--port", "x"]) == 0
    assert cli.main(["config", "set", "--from-defaults", "loss_ms=150", "--port", "x"]) == 0
    assert dconfig.read(config_path(board))[0] == dict(dconfig.defaults(), loss_ms=150)


@pytest.mark.parametrize("data", [b"{", b"", b"\xff\x00", b'{"colour": "red"}'])
def test_show_says_the_config_was_rejected_and_why(board, capsys, data):
    reject(board, data)
    assert cli.main(["config", "show", "--port", "x"]) == 0
    out = capsys.readouterr().out
    _, reason = dconfig.read(config_path(board))
    assert "rejected" in out and reason.split(": ", 1)[1][:40] in " ".join(out.split())
    assert "--from-defaults" in out


def test_show_json_keeps_stdout_json_and_warns_on_stderr(board, capsys):
    reject(board)
    assert cli.main(["config", "show", "--json", "--port", "x"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == dconfig.defaults()
    # The warning is wrapped to the terminal's width.
    assert "loss_ms: must be an integer from 20 to 1000" in " ".join(captured.err.split())


def test_shared_helper_for_other_commands(board):
    from host_tools.board import config as board_config
    from host_tools.errors import DeviceError

    said = []
    assert board_config.warn_if_rejected(board, said.append) is None and said == []
    reject(board)
    reason = board_config.warn_if_rejected(board, said.append)
    assert "loss_ms" in reason and said == [board_config.rejection_note(reason)]

    class NoFirmware:
        def call(self, *args, **_kw):
            raise DeviceError("unexpected answer from dowel.config.read")

    said.clear()
    assert board_config.warn_if_rejected(NoFirmware(), said.append) is None
    assert said[0].startswith("note: could not read")


def test_the_last_fault_is_said_once_then_cleared_on_the_board(board):
    from dowel import fault

    from host_tools.board import config as board_config

    # What fault.record writes on the board (it needs MicroPython's sys.print_exception).
    fault_path = str(board.transport.host_path(fault.FAULT_PATH))
    with open(fault_path, "w") as f:
        f.write(
            "loop MemoryError: memory allocation failed, allocating 2048 bytes "
            '(File "dowel/rep.py", line 101) ticks_ms=1234\n'
        )
    said = []
    board_config.warn_if_rejected(board, said.append)
    assert len(said) == 1 and "it reset itself and went on" in said[0]
    assert "loop MemoryError: memory allocation failed" in said[0]
    said.clear()
    board_config.warn_if_rejected(board, said.append)  # cleared: said once only
    assert said == [] and fault.last(path=fault_path) is None


def test_fields_that_depend_on_each_other_are_set_together_in_any_order():
    from dowel import config as dconfig

    from host_tools.board import config as board_config
    from host_tools.errors import UsageError

    pairs = [("probe", "first"), ("sets_per_day", "5"), ("reps_per_set", "10")]
    board_config.precheck(pairs)  # probe needs reps_per_set: not refused field by field
    cfg = board_config.apply_assignments(dconfig.defaults(), pairs)
    assert (cfg["probe"], cfg["sets_per_day"], cfg["reps_per_set"]) == ("first", 5, 10)
    with pytest.raises(UsageError, match="probe sets need reps_per_set above 0"):
        board_config.apply_assignments(dconfig.defaults(), [("probe", "first")])
    with pytest.raises(UsageError, match=r"schedule\[0\].mode: must be one of"):
        board_config.precheck([("schedule", '[{"mode": "fast"}]')])
