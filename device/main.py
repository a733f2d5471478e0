# Runs at every boot and soft reset: the dowel's loop until Ctrl-C (the host tools) or power-off.
import asyncio

from dowel import app

asyncio.run(app.main())
