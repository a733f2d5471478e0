"""Booting drops the modules only boot needs (`dowel.app._BOOT_ONLY`: the config's validation,
the log's decoder), so their bytecode leaves RAM, and a host call after Ctrl-C still finds them
(loaded afresh). On the real MicroPython interpreter with the virtual board's machine."""

import pytest

pytestmark = pytest.mark.vboard

BOOT = """
import asyncio, gc, sys
from dowel import app

async def boot():
    task = asyncio.create_task(app.main())
    await asyncio.sleep_ms(200)
    loaded = sorted(name for name in sys.modules if name.startswith("dowel."))
    import dowel
    print("loaded", " ".join(loaded), hasattr(dowel, "config"), hasattr(dowel, "logread"))
    task.cancel()
    await asyncio.sleep_ms(10)  # the loop's `finally` closes the log, as after Ctrl-C

asyncio.run(boot())
from dowel import info, loghost, logread
print("status", info.status()["patient"], loghost.status()["segments"],
      logread.decode(b"").error, "dowel.config" in sys.modules, "dowel.logread" in sys.modules)
"""


def test_boot_drops_config_and_decoder_and_host_calls_reload_them():
    interp = pytest.importorskip("host_tools.vboard.interp")
    out = interp.run_micropython(BOOT, timeout=60)
    loaded = next(line for line in out.splitlines() if line.startswith("loaded")).split()
    assert "dowel.app" in loaded and "dowel.logstore" in loaded and "dowel.logfmt" in loaded
    assert "dowel.config" not in loaded and "dowel.logread" not in loaded
    assert loaded[-2:] == ["False", "False"]  # nor bound on the package
    # Host calls after the loop stopped: config defaults, an empty log, a decode; both back.
    assert "status UNSET 0 None True True" in out
