"""Whether the board refused its `/dowel.json`, for every command that talks to a board.

    reason = warn_if_rejected(link, say=console.print)   # None, or the board's reason (shown)

The board keeps no copy of the reason: `dowel.config.read()` loads the file again, exactly as
the boot did (`dowel.config.load`), so host and board always agree on why. A rejected config
means the dowel runs on the defaults (patient UNSET, default thresholds) and warbled at boot.
"""

from __future__ import annotations

from collections.abc import Callable

from host_tools.board import api
from host_tools.errors import DeviceError

FIX = (
    "Fix it with `dowel calibrate --patient ID` (writes a complete config), or "
    "`dowel config set --from-defaults KEY=VALUE ...` to start again from the defaults."
)


def read(link) -> tuple[dict, str | None]:
    """The config the board runs and, when it refused its file, why (else None)."""
    return api.read_config(link)


def rejection_note(reason: str) -> str:
    """The one line a command prints about a rejected config."""
    return f"warning: {reason}. {FIX}"


def warn_if_rejected(link, say: Callable[[str], None] = print) -> str | None:
    """Say so when the board's config was rejected, and when the dowel stopped on a fault
    since the last command (shown once); return the config's reason, or None. Advisory: a
    board that cannot answer (no dowel firmware yet) gets a note, not an error."""
    try:
        _, reason = read(link)
    except DeviceError as exc:
        say(f"note: could not read the dowel's config status: {exc}")
        return None
    if reason:
        say(rejection_note(reason))
    show_last_fault(link, say)
    return reason


def show_last_fault(link, say: Callable[[str], None] = print) -> str | None:
    """The fault that last stopped the dowel's loop (`dowel.fault`, one line on its flash),
    said once and then cleared on the board; None when there was none."""
    try:
        fault = api.last_fault(link)
        if fault:
            api.clear_fault(link)
    except DeviceError:
        return None  # the config note above already said what is wrong with the board
    if fault:
        kind = "its boot failed and it waited for the host" if fault.startswith("boot") else (
            "it reset itself and went on"
        )
        say(f"note: the dowel stopped on a fault ({kind}): {fault}. If it happens again, "
            "run `dowel selftest` and report this line.")
    return fault
