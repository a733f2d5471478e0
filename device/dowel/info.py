"""What the board tells the host: firmware version and status. Called over the raw REPL.

link.call("dowel.info", "version")   # -> ("0.1.0", 3, 1): firmware, protocol, config
link.call("dowel.info", "status")    # -> dict, see `status`
"""

from dowel import config, running
from dowel import version as _v


def version():
    return (_v.FIRMWARE, _v.PROTOCOL, _v.CONFIG)


def status():
    """Config in use and why, IMU presence, and the log store's state (when the loop ran)."""
    cfg, reason = config.load()
    app = running.app
    return {
        "firmware": _v.FIRMWARE,
        "patient": cfg["patient"],
        "config_reason": reason,
        "has_imu": None if app is None else app.pitch is not None,
        "log_full": None if app is None else app.log.full,
    }
