"""Replace a small file whole: the new text is written beside it, then renamed over it, so a
power cut leaves the old file or the new one, never half of either.

    from dowel import atomic
    atomic.write("/dowel.json", text)   # raises OSError when the flash refuses
    atomic.tmp("/dowel.json")           # "/dowel.json.tmp": where a cut save may have left it
    atomic.remove("/drift.json")        # the file and any temporary one, if there are any

The config, the drift state, the feedback progress and the fault line are saved this way. The
log store's state is not: it alternates between two copies (`dowel.logfiles`), which needs no
rename at all.
"""

import os


def tmp(path):
    """The temporary file a save of `path` writes first."""
    return path + ".tmp"


def write(path, text):
    """Write `text` to tmp(path), flushed, and rename it over `path`."""
    t = tmp(path)
    with open(t, "w") as f:
        f.write(text)
        f.flush()
    try:
        os.rename(t, path)  # littlefs (the ESP32's default) replaces the old file atomically
    except OSError:
        # FAT cannot rename over a file. A power cut between these two lines leaves no file at
        # `path` but the whole new one at tmp(path): a reader that must not lose it looks
        # there too (`dowel.config.load`).
        os.remove(path)
        os.rename(t, path)


def remove(path):
    """Remove `path` and tmp(path); no error for one that is not there."""
    for name in (path, tmp(path)):
        try:
            os.remove(name)
        except OSError:
            pass
