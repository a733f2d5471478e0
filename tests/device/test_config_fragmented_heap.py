"""The config is read at boot, when the firmware's modules have left the heap fragmented (on
the virtual board's ESP32-sized heap: 39 KB free, no free block over 1.6 KB). A ~500-byte
config must load there: it is read into a buffer of its own size, not of the 4 KB limit."""

import pytest

pytestmark = pytest.mark.vboard

FRAGMENTED = """
import gc, json, micropython
from dowel import config
gc.collect()
# Fill the heap with 1 KB blocks, then free every other one: plenty free, no 4 KB block.
keep, drop = [], []
try:
    while True:
        keep.append(bytearray(1000))
        drop.append(bytearray(1000))
except MemoryError:
    pass
drop = None
gc.collect()
try:
    bytearray(4097)
    print("big block free")
except MemoryError:
    print("fragmented")
loaded, reason = config.load()
print("loaded", loaded["patient"], reason)
"""


def test_a_small_config_loads_on_a_fragmented_heap():
    import json

    from dowel import config

    interp = pytest.importorskip("host_tools.vboard.interp")
    cfg = config.defaults()
    cfg["patient"] = "P-0042"
    files = {"dowel.json": json.dumps(cfg)}
    out = interp.run_micropython(FRAGMENTED, files=files, heap_kb=160, timeout=60).split("\n")
    assert "fragmented" in out  # the condition the boot met: no block of the 4 KB limit
    assert "loaded P-0042 None" in out
