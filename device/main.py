# Runs at every boot and soft reset: the dowel's loop until Ctrl-C (the host tools) or power-off.
# The host's Ctrl-C is a KeyboardInterrupt raised wherever the interpreter is (nearly always
# inside asyncio's wait), which leaves asyncio.run() at once without running the tasks'
# `finally`s (extmod/asyncio/core.py): the safe state is kept here, where it does run.
import asyncio

from dowel import app

try:
    asyncio.run(app.main())
except Exception as exc:  # a bug or MemoryError in the loop: the reason to flash, a reset
    app.crash(exc)
finally:
    app.stop()  # silent, reps on flash, log closed, drift saved, boot.py's feed timer again
