"""`dowel logs pull|export` and `dowel sessions` through the CLI, on the fake board."""

from __future__ import annotations

import csv
import io
import json
import random

import pytest

from host_tools import cli
from host_tools.board import link, ports
from tests.fakes.board import fake_link
from tests.fakes.logs import random_sessions, write_scenario


@pytest.fixture
def board(tmp_path, monkeypatch):
    monkeypatch.setenv("DOWEL_HOME", str(tmp_path / "home"))
    root = tmp_path / "flash" / "logs"
    sessions = random_sessions(random.Random(8), 2, 5)
    sessions[1][2] = (2, sessions[1][2][1], 4000, 0, 0, None, None, None, None, None, None)
    write_scenario(root, sessions, segment_bytes=300)
    links = []

    def open_link(port, **_kw):
        assert port == "/dev/fake"
        links.append(fake_link(root.parent))
        return links[-1]

    monkeypatch.setattr(link.Link, "open", staticmethod(open_link))
    monkeypatch.setattr(ports, "resolve_port", lambda port, **kw: port or "/dev/fake")
    return root, sessions


def test_pull_sessions_export(board, capsys, tmp_path):
    root, sessions = board
    assert cli.main(["logs", "pull"]) == 0
    out = capsys.readouterr().out
    assert "10 new reps" in out and "2 new sessions" in out
    assert list(root.glob("*.dwl")) == []

    assert cli.main(["sessions", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    rows = listed["sessions"]
    assert [(r["patient"], r["session"], r["reps"]) for r in rows] == [
        ("P-0001", 1, 5),
        ("P-0001", 2, 5),
    ]
    assert rows[0]["clean"] == sum(1 for r in sessions[0] if r[3] == 0)
    assert cli.main(["sessions", "--patient", "P-0001"]) == 0
    # Written without a clock: never "clock not set" any more, an estimated start marked "~".
    listing = capsys.readouterr().out
    assert "clock not set" not in listing and "~" in listing and "estimated start" in listing
    assert all(r["started_estimated"] and r["started_utc"] for r in rows)

    assert cli.main(["logs", "export", "--patient", "P-0001", "--format", "csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(table) == 10
    flat = [r for s in sessions for r in s]
    for row, rep in zip(table, flat, strict=True):
        assert int(row["seq"]) == rep[0] and int(row["duration_ms"]) == rep[2]
        assert row["outcome"] == ("clean", "head", "midback", "sacrum")[rep[4]]
        assert row["point_lost"] == ("" if rep[4] == 0 else row["outcome"])
        assert row["depth_deg"] == ("" if rep[7] is None else str(rep[7] / 10))
        assert row["rise_ms"] == ("" if rep[10] is None else str(rep[10]))

    out_file = tmp_path / "reps.json"
    assert (
        cli.main(
            ["logs", "export", "--patient", "P-0001", "--format", "json", "--out", str(out_file)]
        )
        == 0
    )
    data = json.loads(out_file.read_text())
    assert [r["seq"] for r in data] == [r[0] for r in flat]
    assert data[7]["lower_ms"] is None  # the rep logged without IMU figures


def test_export_unknown_patient_names_the_fix(board, capsys):
    assert cli.main(["logs", "export", "--patient", "NOPE", "--format", "csv"]) == 2
    assert "dowel logs pull" in capsys.readouterr().err


def test_interrupted_pull_says_nothing_is_lost(board, capsys, monkeypatch):
    root, _ = board
    monkeypatch.setattr(
        link.Link, "open", staticmethod(lambda port, **_kw: fake_link(root.parent, die_at=4))
    )  # the read
    assert cli.main(["logs", "pull", "--port", "/dev/fake"]) == 1
    err = capsys.readouterr().err
    assert "Nothing is lost" in err and "dowel logs pull" in err


def test_a_damaged_segment_is_kept_until_accept_damaged(board, capsys):
    root, _ = board
    seg = sorted(root.glob("*.dwl"))[0]
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 0x55
    seg.write_bytes(bytes(data))
    assert cli.main(["logs", "pull"]) == 0
    captured = capsys.readouterr()
    assert "kept: " + seg.name in captured.out
    assert "dowel logs pull --accept-damaged" in " ".join(captured.err.split())  # rich wraps
    assert [p.name for p in root.glob("*.dwl")] == [seg.name]
    assert cli.main(["logs", "pull", "--accept-damaged"]) == 0
    assert "freed as asked" in capsys.readouterr().err
    assert list(root.glob("*.dwl")) == []
