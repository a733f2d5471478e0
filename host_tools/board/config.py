"""The board's `/dowel.json`: read it, write it, change fields of it, and say when the board
refused its file (for every command that talks to a board).

    reason = warn_if_rejected(link, say=console.print)   # None, or the board's reason (shown)
    old, new = set_fields(link, [("loss_ms", "150")])    # validated here, then by the board

The board keeps no copy of the reason: `dowel.config.read()` loads the file again, exactly as
the boot did (`dowel.config.load`), so host and board always agree on why. A rejected config
means the dowel runs on the defaults (patient UNSET, default thresholds) and warbled at boot.
"""

from __future__ import annotations

from collections.abc import Callable

from dowel import config as dconfig

from host_tools.board import api
from host_tools.errors import DeviceError, UsageError

FIX = (
    "Fix it with `dowel calibrate --patient ID` (writes a complete config), or "
    "`dowel config set --from-defaults KEY=VALUE ...` to start again from the defaults."
)


def read(link) -> tuple[dict, str | None]:
    """The config the board runs and, when it refused its file, why (else None)."""
    return api.read_config(link)


def calibrated_patient(cfg: dict) -> str | None:
    """Whose calibration the config holds; None for the defaults' placeholder (UNSET)."""
    patient = cfg.get("patient")
    return patient if patient and patient != dconfig.defaults()["patient"] else None


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
        kind = (
            "its boot failed and it waited for the host"
            if fault.startswith("boot")
            else ("it reset itself and went on")
        )
        say(
            f"note: the dowel stopped on a fault ({kind}): {fault}. If it happens again, "
            "run `dowel selftest` and report this line."
        )
    return fault


def write(link, cfg: dict) -> dict:
    """Write `cfg` through the board's own validation and atomic save, then read it back."""
    cfg = dconfig.validate(cfg)
    written = api.write_config(link, dconfig.canonical(cfg))
    back, reason = api.read_config(link)
    if written != cfg or back != cfg or reason:
        raise DeviceError(
            "the dowel did not keep the config it was sent (read-back differs"
            + (f": {reason}" if reason else "")
            + "). Its flash may be full or failing: run `dowel selftest`, then try again."
        )
    return back


def flatten(cfg: dict, prefix: str = "") -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for key in sorted(cfg):
        value = cfg[key]
        if isinstance(value, dict):
            out += flatten(value, prefix + key + ".")
        else:
            out.append((prefix + key, value))
    return out


def apply_assignments(cfg: dict, pairs: list[tuple[str, str]]) -> dict:
    """`cfg` with every assignment applied, then validated together, so their order does not
    matter (`off` and `on` may move together; `probe=first` may come before `reps_per_set`); a
    refusal names each bad field and range, every one, not only the first."""
    errors: list[tuple[str, str]] = []
    for key, value in pairs:
        try:
            cfg = dconfig.assign(cfg, key, value)
        except dconfig.ConfigError as exc:
            errors += exc.errors
    if not errors:
        try:
            cfg = dconfig.validate(cfg)
        except dconfig.ConfigError as exc:
            errors += exc.errors
    if errors:
        lines = "\n".join(f"  {field}: {message}" for field, message in errors)
        raise UsageError(
            f"config not changed, nothing written to the dowel:\n{lines}\n"
            "`dowel config show` prints the current values."
        )
    return cfg


def precheck(pairs: list[tuple[str, str]]) -> None:
    """Refuse, before touching the board, what no config could take: unknown keys, values out
    of their field's own range. Rules between fields (0 < off < on, end_deg < start_deg) depend
    on the board's other values, so they are left to `apply_assignments` on its config."""
    errors: list[tuple[str, str]] = []
    for key, value in pairs:
        try:
            dconfig.set_field(dconfig.defaults(), key, value)
        except dconfig.ConfigError as exc:
            errors += [
                (field, message)
                for field, message in exc.errors
                if (field == key or field.startswith((key + "[", key + ".")))
                and not any(w in message for w in dconfig.CROSS_FIELD)
            ]
    if errors:
        lines = "\n".join(f"  {field}: {message}" for field, message in errors)
        raise UsageError(f"config not changed, nothing written to the dowel:\n{lines}")


def set_fields(
    link, pairs: list[tuple[str, str]], from_defaults: bool = False
) -> tuple[dict, dict]:
    """Apply the assignments to the board's config (or, `from_defaults`, to the defaults) and
    write it; returns (old, new). A config the board rejected is refused, not built upon."""
    old, reason = read(link)
    if reason and not from_defaults:
        raise UsageError(
            f"config not changed, nothing written to the dowel: {reason}.\n"
            "Its fields are not known, so they cannot be kept. Start from the defaults with "
            "`dowel config set --from-defaults KEY=VALUE ...`, or run `dowel calibrate "
            "--patient ID` (it writes a complete config)."
        )
    new = apply_assignments(dconfig.defaults() if from_defaults else old, pairs)
    write(link, new)
    return old, new
