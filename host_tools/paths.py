"""Where the host tools keep their data: the user data directory (platformdirs), or
$DOWEL_HOME when set (tests and scripts use it to keep a private database)."""

import os
from pathlib import Path


def data_dir() -> Path:
    home = os.environ.get("DOWEL_HOME")
    if home:
        path = Path(home)
    else:
        from platformdirs import user_data_dir

        path = Path(user_data_dir("dowel", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def repo_root() -> Path:
    """The checkout holding `device/` and `vboard/` (editable install)."""
    return Path(__file__).resolve().parent.parent


def device_dir() -> Path:
    return repo_root() / "device"
