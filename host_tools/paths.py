"""Where the host tools find their files and keep their data.

    device_dir()       # the firmware as the board holds it: main.py, boot.py, dowel/
    vboard_py_dir()    # the virtual board's MicroPython side: _vbboot.py, _vbmachine.py, ...
    data_dir()         # the user's database and logs ($DOWEL_HOME when set)

The files that run on MicroPython live beside `host_tools/` in a checkout (`device/`,
`vboard/py/`). A wheel carries them inside the package instead, under `host_tools/_board_files/`
with the same relative paths (pyproject.toml's [tool.setuptools] maps them there), since an
installed package has no checkout around it. Only this module knows the two layouts.
"""

import os
from pathlib import Path

_HOST_TOOLS = Path(__file__).resolve().parent
_SHIPPED = _HOST_TOOLS / "_board_files"  # only in an installed wheel, never in a checkout


def data_dir() -> Path:
    """The user data directory (platformdirs), or $DOWEL_HOME when set (tests and scripts use
    it to keep a private database)."""
    home = os.environ.get("DOWEL_HOME")
    if home:
        path = Path(home)
    else:
        from platformdirs import user_data_dir

        path = Path(user_data_dir("dowel", appauthor=False))
    if path.is_dir():
        return path  # even read-only: reading commands work; db.connect says why writes fail
    from host_tools.errors import DowelError, UsageError

    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        where = "DOWEL_HOME" if home else "the data folder"
        raise UsageError(
            f"{where} {path} is a file, not a folder: point DOWEL_HOME at a folder "
            "(or move the file aside)"
        ) from None
    except OSError as exc:
        raise DowelError(
            f"cannot create the data folder {path} ({exc.strerror}): make its parent "
            "writable, or set DOWEL_HOME to a folder you can write"
        ) from None
    return path


def installed() -> bool:
    """True when these host tools run from an installed wheel, not from a checkout."""
    return _SHIPPED.is_dir()


def repo_root() -> Path:
    """The checkout holding `device/`, `vboard/` and `hardware/` (meaningful in a checkout only:
    the host tools themselves reach the board's files through the functions below)."""
    return _HOST_TOOLS.parent


def _board_files_root() -> Path:
    return _SHIPPED if installed() else repo_root()


def device_dir() -> Path:
    return _board_files_root() / "device"


def vboard_py_dir() -> Path:
    return _board_files_root() / "vboard" / "py"


def scenarios_dir() -> Path:
    """The shipped scenarios and builds (package data in both layouts)."""
    return _HOST_TOOLS / "scenarios"


def build_dir() -> Path:
    """Where `dowel flash` compiles the firmware: `build/` in a checkout; in the data directory
    for an install, whose site-packages is no place for build output."""
    return data_dir() / "build" if installed() else repo_root() / "build"


def python_path() -> list[Path]:
    """The folders a child Python (the vboard daemon) needs on its path to import these
    `host_tools` and the firmware's `dowel`: the checkout and its `device/`, or the one
    site-packages an install put both in."""
    if installed():
        return [_HOST_TOOLS.parent]
    return [repo_root(), device_dir()]
