"""What the firmware runs in this interpreter, in one place: the host's calls, made over the
raw REPL once its Ctrl-C has stopped the loop, find the loop's objects here.

    from dowel import running
    running.app             # the App the loop ran (`dowel.app.main`); None: no boot got that far
    running.board()         # the App's hal.Board, else one made here once
    running.log             # the Log that writes (`dowel.logstore`); None once it is closed
    running.drift           # the drift tracker being fed (`dowel.drift`), newer than its file
    running.session_boot    # the `boot` of the last log session begun, or None

The host's Ctrl-C keeps the interpreter and all of this; a soft reset starts a new one, where
it is all None again. Nothing is imported here until `board()` needs `dowel.hal`, so a host
call that only reads these names loads no other module.
"""

app = None
log = None
drift = None
# The log store's random `boot` number of the last session begun since this interpreter
# started. When the host finds here the boot of the log's last session, no reset came between
# that session and now, so ticks_ms still counts from the same power-on (`dowel.clock.sync`,
# `host_tools.store.dates`).
session_boot = None
_board = None


def board():
    """The loop's Board when the firmware built one this boot, else one made here on first use
    and kept: every host call drives the same pins (one owner per pin)."""
    global _board
    if app is not None:
        return app.board
    if _board is None:
        from dowel import hal

        _board = hal.Board()
    return _board
