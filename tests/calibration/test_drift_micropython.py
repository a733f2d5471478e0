"""`Drift.update` allocates nothing on MicroPython: run under `micropython.heap_lock()` in the
official MicroPython WebAssembly interpreter (the virtual board's)."""

import shutil
import subprocess

import pytest

from host_tools.paths import device_dir, repo_root

MPJS = repo_root() / "node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs"

RUNNER = """
import { loadMicroPython } from %(mpjs)s;
import fs from "fs";
const out = [];
const mp = await loadMicroPython({stdout: (l) => out.push(l), stderr: (l) => out.push(l)});
mp.FS.mkdir("/dowel");
for (const f of ["__init__.py", "drift.py"]) {
  mp.FS.writeFile("/dowel/" + f, fs.readFileSync(%(dev)s + "/" + f));
}
try { mp.runPython(fs.readFileSync(process.argv[2], "utf8")); }
catch (e) { out.push("ERROR " + e.type + ": " + e.message.slice(0, 200)); }
console.log(out.join("\\n"));
"""

PROGRAM = """
import gc, micropython
from array import array
from dowel.drift import Drift

def main():
    d = Drift([20000, 30000, 40000], 25)
    r = array("H", [21000, 29000, 65535])
    d.update(r, 0)
    gc.collect()
    micropython.heap_lock()
    try:
        for k in range(5000):
            r[0] = 14000 + k % 7
            d.update(r, 1 + k % 60)
        m = d.moved()
    finally:
        micropython.heap_unlock()
    print("RESULT", d.current(0), d.current(1), d.current(2), m, d.armed_ms)

main()
"""


@pytest.mark.vboard
@pytest.mark.skipif(not shutil.which("node") or not MPJS.exists(), reason="no Node/MicroPython")
def test_update_allocates_nothing_on_micropython(tmp_path):
    runner = tmp_path / "run.mjs"
    runner.write_text(RUNNER % {"mpjs": repr(str(MPJS)), "dev": repr(str(device_dir() / "dowel"))})
    program = tmp_path / "prog.py"
    program.write_text(PROGRAM)
    out = subprocess.run(["node", str(runner), str(program)], capture_output=True, text=True,
                         timeout=60).stdout
    result = [line for line in out.splitlines() if line.startswith("RESULT")]
    assert result, out[-500:]  # a MemoryError (an allocation under heap_lock) lands here
    head, midback, sacrum, moved, armed_ms = (int(x) for x in result[0].split()[1:])
    assert 14000 <= head <= 14006 and midback == 29000 and sacrum == 65535
    assert moved == 0b101  # head -30 %, sacrum +64 %
    assert armed_ms > 100000
