"""Version numbers shared by the firmware and the host tools (one source of truth).

from dowel.version import FIRMWARE, PROTOCOL
"""

# Firmware release; `dowel flash` writes it next to the code and checks the board answers it.
FIRMWARE = "0.1.0"
# Host <-> device call contract (device-side function names and their tuple results).
# 2: logstore.segments() rows carry the unfinished-write offset. 3: the log store's host calls
# are `dowel.loghost.<name>` (status, segments, read, delete, set_rtc, reserve_sessions,
# ack_dropped), no longer also `dowel.logstore.<name>`.
PROTOCOL = 3
# /dowel.json schema version.
CONFIG = 1
