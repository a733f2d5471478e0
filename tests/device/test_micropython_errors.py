"""Every firmware module imports on MicroPython, and its exceptions are built only in ways
MicroPython supports: each exception class the firmware defines is raised with its arguments and
`str()`-ed, and each function's error path runs, on the interpreter (no CPython stand-in)."""

import ast

import pytest

from host_tools.paths import device_dir

pytestmark = pytest.mark.vboard

# Every exception class the firmware defines: "module.Class" -> constructor arguments (code)
# and the `str()` expected. The test below finds the classes on the board and fails when one
# is missing here, so a new class gets its check.
EXCEPTIONS = {
    "dowel.config.ConfigError": (
        "[('loss_ms', 'must be an integer from 20 to 1000'), ('colour', 'unknown field')]",
        "loss_ms: must be an integer from 20 to 1000; colour: unknown field",
    ),
    "dowel.logread._Bad": ("'CRC mismatch'", "CRC mismatch"),
}

# Each firmware function that raises on bad input: (code whose exception is caught, type, str).
ERROR_PATHS = [
    ("config.validate(5)", "ConfigError", "config: must be a JSON object"),
    (
        "config.set_field(config.defaults(), 'arm_ms', 'abc')",
        "ConfigError",
        "arm_ms: must be an integer, not 'abc'",
    ),
    (
        "config.set_field(config.defaults(), 'sensors.neck.on', '1')",
        "ConfigError",
        "sensors.neck.on: unknown field",
    ),
    (
        "config.save(dict(config.defaults(), loss_ms=0), '/x.json')",
        "ConfigError",
        "loss_ms: must be an integer from 20 to 1000",
    ),
    (
        "config.write_json('{\"chime\": 1}', '/x.json')",
        "ConfigError",
        "chime: must be true or false",
    ),
    ("logfmt.frame(logfmt.K_REP, bytes(300))", "ValueError", "payload too long"),
    (
        "logfmt.RepPacker().pack(1, 0, 10, 9, 0, 0, None, None, None, None, None)",
        "ValueError",
        "lost_mask 0..7, first_lost 0..3",
    ),
    ("logfmt._check(1 << 40)", "ValueError", "rep field out of range"),
    ("loghost.read('../boot.py', 0, 10)", "ValueError", "not a segment name: '../boot.py'"),
    (
        "imu.Imu(NoImu())",
        "OSError",
        "IMU at 0x68 has WHO_AM_I 0x00: not an MPU6050 (0x68) or MPU-6500 (0x70)",
    ),
]

CODE = """
import sys, builtins
MODULES = %(modules)r
EXCEPTIONS = {%(exceptions)s}
class NoImu:  # an I2C bus whose device at 0x68 is not an MPU6050
    def readfrom_mem(self, addr, reg, n):
        return bytes(n)
for name in MODULES:
    __import__(name)
    print('imported', name)
seen = []
for name in MODULES:
    mod = sys.modules[name]
    for attr in dir(mod):
        obj = getattr(mod, attr)
        if (isinstance(obj, type) and issubclass(obj, BaseException)
                and obj is not getattr(builtins, attr, None) and obj not in seen):
            seen.append(obj)
            key = name + '.' + attr
            print('class', key)
            try:
                raise obj(*EXCEPTIONS[key])
            except obj as exc:
                print('str', repr((key, str(exc), isinstance(exc, Exception))))
from dowel import config, hal, imu, logfmt, loghost
for code in %(paths)r:
    try:
        eval(code)
        print('path', repr((code, 'no error', '')))
    except Exception as exc:
        print('path', repr((code, type(exc).__name__, str(exc))))
"""


def firmware_modules() -> list[str]:
    return sorted(
        "dowel" if p.stem == "__init__" else f"dowel.{p.stem}"
        for p in (device_dir() / "dowel").glob("*.py")
    )


def test_every_module_imports_and_every_error_path_works_on_micropython():
    interp = pytest.importorskip("host_tools.vboard.interp")
    modules = firmware_modules()
    assert "dowel.config" in modules and "dowel.hal" in modules
    code = CODE % {
        "modules": modules,
        "exceptions": ", ".join(f"{k!r}: ({args},)" for k, (args, _) in EXCEPTIONS.items()),
        "paths": [c for c, _, _ in ERROR_PATHS],
    }
    out = interp.run_micropython(code, timeout=60).splitlines()
    assert [line.split()[1] for line in out if line.startswith("imported")] == modules
    classes = [line.split()[1] for line in out if line.startswith("class")]
    assert sorted(classes) == sorted(EXCEPTIONS), "add the new exception class to EXCEPTIONS"
    strs = {}
    for line in out:
        if line.startswith("str "):
            key, text, is_exception = ast.literal_eval(line[4:])
            assert is_exception, key
            strs[key] = text
    assert strs == {k: want for k, (_, want) in EXCEPTIONS.items()}
    paths = {}
    for line in out:
        if line.startswith("path "):
            code, kind, message = ast.literal_eval(line[5:])
            paths[code] = (kind, message)
    for code, kind, message in ERROR_PATHS:
        assert paths[code] == (kind, message), code
