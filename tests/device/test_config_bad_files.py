"""A `/dowel.json` the board cannot use never stops the dowel: `config.load` gives defaults and a
one-line reason for every kind of bad file, and never raises, on CPython and on the MicroPython
interpreter (where `ValueError.__init__(self, ...)` and a text-mode read of binary data used to
crash the boot). At boot the loop then runs on defaults, with the fault cue."""

import json

import pytest
from dowel import config

NESTED = b'{"sensors": {"head": ' + b'{"on": ' * 40 + b"1" + b"}" * 41 + b"}"

# (name, file contents, a fragment the reason must hold)
BAD_FILES = [
    ("out_of_range", b'{"loss_ms": 5000}', "loss_ms: must be an integer from 20 to 1000"),
    ("bad_patient", b'{"patient": "bad id!"}', "patient: must be 1..32 characters"),
    ("unknown_field", b'{"colour": "red"}', "colour: unknown field"),
    ("unknown_sensor", b'{"sensors": {"neck": {}}}', "sensors.neck: unknown sensor"),
    ("bad_json", b'{"loss_ms": 120,', "not valid JSON"),
    ("binary", bytes(range(256)) * 4, "not JSON text (byte 0x00 at offset 0)"),
    ("utf8_bom", b'\xef\xbb\xbf{"loss_ms": 120}', "not JSON text (byte 0xef at offset 0)"),
    ("empty", b"", "the file is empty"),
    ("blank", b" \r\n\t", "the file is empty"),
    ("huge", b'{"patient": "P-1"}' + b" " * (1 << 20), "the file is over 4096 bytes"),
    ("deep_array", b"[" * 2000 + b"]" * 2000, "nested deeper than 8 levels"),
    ("nested", NESTED, "nested deeper than 8 levels"),
    ("list", b"[1, 2, 3]", "config: must be a JSON object"),
    ("string", b'"P-0001"', "config: must be a JSON object"),
    ("null", b"null", "config: must be a JSON object"),
    ("number", b"120", "config: must be a JSON object"),
]
IDS = [name for name, _, _ in BAD_FILES]


@pytest.mark.parametrize(("name", "data", "expect"), BAD_FILES, ids=IDS)
def test_cpython_gives_defaults_and_the_reason(tmp_path, name, data, expect):
    path = tmp_path / "dowel.json"
    path.write_bytes(data)
    cfg, reason = config.load(str(path))
    assert cfg == config.defaults()
    assert reason.startswith(f"config {path} rejected, defaults in use: ")
    assert expect in reason
    assert "\n" not in reason and len(reason) < 300
    assert config.read(str(path)) == (cfg, reason)  # the host's call: the same reason


def test_cpython_unreadable_file_is_not_taken_for_a_missing_one(tmp_path):
    path = tmp_path / "dowel.json"
    path.mkdir()  # open() fails with EISDIR, not ENOENT
    cfg, reason = config.load(str(path))
    assert cfg == config.defaults() and "cannot be read (OSError" in reason


def test_a_string_holding_brackets_is_not_nesting(tmp_path):
    path = tmp_path / "dowel.json"
    path.write_text(json.dumps({"patient": 'x\\"[[[[[[[[[[[[' + "{" * 20}))
    reason = config.load(str(path))[1]
    assert "patient" in reason and "nested" not in reason


def test_a_valid_pretty_printed_config_still_loads(tmp_path):
    path = tmp_path / "dowel.json"
    cfg = config.set_field(config.defaults(), "patient", "P-" + "9" * 30)
    path.write_text(json.dumps(cfg, indent=8))
    assert config.load(str(path)) == (cfg, None)


# On the board: the boot's own call (no path: /dowel.json), the host's `read` and the status
# `dowel selftest` reads, all from the same file.
LOAD_ON_BOARD = """
from dowel import config, info
cfg, reason = config.load()
print(repr((cfg == config.defaults(), reason, config.read() == (cfg, reason),
            info.status()["config_reason"] == reason)))
"""


@pytest.fixture(scope="module")
def run_mp():
    interp = pytest.importorskip("host_tools.vboard.interp")
    return interp.run_micropython


@pytest.mark.vboard
@pytest.mark.parametrize(("name", "data", "expect"), BAD_FILES, ids=IDS)
def test_micropython_gives_defaults_and_the_reason(run_mp, name, data, expect):
    out = run_mp(LOAD_ON_BOARD, files={"dowel.json": data}, timeout=60)
    is_defaults, reason, same_for_host, same_in_status = eval(out.strip().splitlines()[-1])
    assert is_defaults and same_for_host and same_in_status
    assert reason.startswith("config /dowel.json rejected, defaults in use: ")
    assert expect in reason, reason


@pytest.mark.vboard
def test_micropython_unreadable_file(run_mp):
    out = run_mp(LOAD_ON_BOARD, files={"dowel.json/inside": b"{}"})  # a folder named dowel.json
    is_defaults, reason, same_for_host, _ = eval(out.strip().splitlines()[-1])
    assert is_defaults and same_for_host
    assert "cannot be read (OSError" in reason


BOOT = """
import asyncio
from dowel import app, cues, running

async def boot():
    task = asyncio.create_task(app.main())
    await asyncio.sleep_ms(300)
    print("running", not task.done(), running.app.engine.player.pattern == cues.CONFIG_FAULT_CUE)
    task.cancel()
    await asyncio.sleep_ms(10)

asyncio.run(boot())
"""


@pytest.mark.vboard
@pytest.mark.parametrize("name", ["out_of_range", "binary", "huge"])
def test_micropython_boot_runs_the_loop_on_defaults(run_mp, name):
    data = dict((n, d) for n, d, _ in BAD_FILES)[name]
    out = run_mp(BOOT, files={"dowel.json": data}, timeout=60)
    assert "config=rejected patient=UNSET" in out
    assert "running True True" in out  # the loop runs, the warble plays
