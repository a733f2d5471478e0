"""Put the firmware on a board (real or virtual) through its `Link`: what `dowel flash` and
`dowel demo` both do.

    with api.connect(port) as link:
        result = deploy(link)        # DeployResult(uploaded=[...], skipped=[...], removed=[...])

Steps: compile `device/` (host_tools.firmware.build); ask the board, in one exec, which
MicroPython it
runs and the sha256 of each file it holds; upload only the files whose hash differs, each to a
temporary name that is hashed on the board and only then renamed over the old file (a cut
cable never leaves half a module in place; a mismatch is retried once, then it is a
DeviceError); remove stale modules from /dowel/ (a leftover `x.py` would shadow the new
`x.mpy`); write /dowel/manifest.json (firmware version and every file's hash) last; soft-reset
and check the new firmware answers `dowel.info.version()`.

The board's config (/dowel.json) and logs (/logs/) are never written, renamed or removed.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import io
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from host_tools.board import api
from host_tools.errors import DeviceError
from host_tools.firmware.build import board_files, compile_device, default_build_dir

MANIFEST = "/dowel/manifest.json"
PACKAGE_DIR = "/dowel"
PROTECTED = ("/dowel.json", "/logs")  # the patient's config and logs: never touched
# MicroPython releases that load our .mpy files: MPY_VERSION 6, MPY_SUB_VERSION 3 in
# py/persistentcode.h at v1.24.0 through v1.28.0 and on master (1.29.0-preview). A board is
# accepted by its .mpy ABI (what really decides), an image by its version (all it carries).
SUPPORTED_MICROPYTHON = ((1, 24), (1, 29))  # first and last minor version, inclusive
MIN_MICROPYTHON = SUPPORTED_MICROPYTHON[0]
MPY_ABI = (6, 3)  # .mpy version.sub-version emitted by mpy-cross 1.27
SUPPORTED_TEXT = "{}.{}-{}.{}".format(*SUPPORTED_MICROPYTHON[0], *SUPPORTED_MICROPYTHON[1])
CHUNK = 512  # bytes per write exec: the raw REPL's paste mode keeps up with this on an ESP32

# Runs on the board: which MicroPython, free space, what /dowel/ holds, and file hashes.
# Paths are passed as a repr'd list; hashes come back as raw digests (bytes) or None.
_HASH_FN = """\
import hashlib
def _dowel_h(p):
    try:
        f = open(p, 'rb')
    except OSError:
        return None
    h = hashlib.sha256()
    b = bytearray(512)
    m = memoryview(b)
    while True:
        n = f.readinto(b)
        if not n:
            break
        h.update(m[:n])
    f.close()
    return h.digest()
"""

_PROBE = (
    _HASH_FN
    + """\
import os, sys
def _dowel_probe(paths, pkg):
    i = sys.implementation
    try:
        st = os.statvfs('/')
        free = st[0] * st[4]
    except (OSError, AttributeError):
        free = -1
    try:
        names = [e[0] for e in os.ilistdir(pkg) if e[1] != 0x4000]
    except OSError:
        names = None
    return {'impl': (i.name, tuple(i.version[:3]), getattr(i, '_mpy', 0)),
            'platform': sys.platform, 'free': free, 'pkg': names,
            'hashes': dict((p, _dowel_h(p)) for p in paths)}
"""
)


@dataclass
class DeployResult:
    uploaded: list[str] = field(default_factory=list)  # board paths written
    skipped: list[str] = field(default_factory=list)  # already identical on the board
    removed: list[str] = field(default_factory=list)  # stale modules deleted from /dowel/
    firmware: str = ""  # the version the board answered after the reset
    micropython: str = ""  # e.g. "1.27.0"

    @property
    def changed(self) -> bool:
        return bool(self.uploaded or self.removed)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def manifest_bytes(files: dict[str, bytes]) -> bytes:
    """The manifest for a build: deterministic, so an unchanged build skips it too."""
    from dowel.version import CONFIG, FIRMWARE, PROTOCOL

    body = {
        "firmware": FIRMWARE,
        "protocol": PROTOCOL,
        "config": CONFIG,
        "mpy": f"{MPY_ABI[0]}.{MPY_ABI[1]}",
        "files": {path: sha256(data).hex() for path, data in sorted(files.items())},
    }
    return json.dumps(body, sort_keys=True, indent=1).encode() + b"\n"


def check_protected(paths) -> None:
    for path in paths:
        for guarded in PROTECTED:
            if path == guarded or path.startswith(guarded + "/"):
                raise AssertionError(f"a build must never write {path}")


class Board:
    """The few file operations deploy needs, as code run over a Link (one exec each)."""

    def __init__(self, link):
        self.link = link

    def _eval(self, code: str, expr: str):
        out = self.link.exec(code + "print(repr(" + expr + "))\n")
        text = out.decode(errors="replace").strip()
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise DeviceError(
                f"unexpected answer from the board on {self.link.port}: {text[:200]!r}"
            ) from None

    def probe(self, paths: list[str]) -> dict:
        return self._eval(_PROBE, f"_dowel_probe({paths!r}, {PACKAGE_DIR!r})")

    def hash(self, path: str) -> bytes | None:
        return self._eval(_HASH_FN, f"_dowel_h({path!r})")

    def makedirs(self, path: str) -> None:
        parents = [str(p) for p in reversed(PurePosixPath(path).parents) if str(p) != "/"]
        if parents:
            self.link.exec(
                f"import os\nfor d in {parents!r}:\n    try:\n        os.mkdir(d)\n"
                "    except OSError:\n        pass\n"
            )

    def write(self, path: str, data: bytes) -> None:
        from mpremote.transport import TransportError

        try:
            self.link.transport.fs_writefile(path, data, chunk_size=CHUNK)
        except (TransportError, OSError) as exc:
            raise DeviceError(
                f"writing {path} on {self.link.port} failed: {exc}. Check the USB cable and "
                "run `dowel flash` again (the files already on the board are intact)."
            ) from None

    def replace(self, src: str, dst: str) -> None:
        # FAT refuses to rename onto an existing file; littlefs replaces it atomically.
        self.link.exec(
            f"import os\ntry:\n    os.rename({src!r}, {dst!r})\nexcept OSError:\n"
            f"    try:\n        os.remove({dst!r})\n    except OSError:\n        pass\n"
            f"    os.rename({src!r}, {dst!r})\n"
        )

    def remove(self, path: str) -> None:
        self.link.exec(f"import os\ntry:\n    os.remove({path!r})\nexcept OSError:\n    pass\n")

    def soft_reset(self) -> None:
        """Restart MicroPython in the raw REPL: fresh imports, and main.py does not run."""
        from mpremote.transport import TransportError

        try:
            self.link.transport.enter_raw_repl(soft_reset=True)
        except TransportError as exc:
            raise DeviceError(
                f"the board on {self.link.port} did not come back after a soft reset ({exc}). "
                "Unplug it, plug it back in, and run `dowel flash` again."
            ) from None


def check_micropython(impl: tuple, port: str) -> str:
    """The board's MicroPython version as text, or a DeviceError naming the fix."""
    name, version, mpy = impl
    text = ".".join(str(v) for v in version)
    if name != "micropython":
        raise DeviceError(
            f"the board on {port} runs {name} {text}, not MicroPython: install MicroPython "
            f"({SUPPORTED_TEXT}) with `dowel flash --firmware ESP32_GENERIC-....bin`."
        )
    abi = (mpy & 0xFF, (mpy >> 8) & 3)
    if tuple(version) < MIN_MICROPYTHON or abi != MPY_ABI:
        raise DeviceError(
            f"the board on {port} runs MicroPython {text} (.mpy {abi[0]}.{abi[1]}), which cannot "
            f"load this firmware (.mpy {MPY_ABI[0]}.{MPY_ABI[1]}): install MicroPython "
            f"{SUPPORTED_TEXT} "
            "with `dowel flash --firmware ESP32_GENERIC-....bin` (micropython.org/download/"
            "ESP32_GENERIC)."
        )
    return text


def _upload(board: Board, path: str, data: bytes, say: Callable[[str], None]) -> None:
    tmp = path + ".tmp"
    want = sha256(data)
    for attempt in (1, 2):
        board.write(tmp, data)
        got = board.hash(tmp)
        if got == want:
            board.replace(tmp, path)
            return
        board.remove(tmp)
        if attempt == 1:
            say(f"  {path}: hash mismatch after writing, retrying")
    raise DeviceError(
        f"{path} arrived corrupted on {board.link.port} twice (sha256 mismatch); the old copy is "
        "still in place. Try another USB cable or port, then `dowel flash` again; if it keeps "
        "failing the board's flash may be worn: reinstall MicroPython with `dowel flash "
        "--firmware FILE.bin --erase` (this erases config and logs: pull the logs first)."
    )


def deploy(
    link,
    build_dir: Path | None = None,
    *,
    src: Path | None = None,
    say: Callable[[str], None] = lambda _m: None,
    progress: Callable[[int, int], None] | None = None,
) -> DeployResult:
    """Compile `src` (default `device/`), hash-diff upload, verify each file, write the
    manifest, soft-reset, check the version. `say` gets one line per action, `progress`
    (bytes uploaded and verified, bytes to upload) one call per file."""
    from dowel.version import FIRMWARE, PROTOCOL

    if build_dir is None:
        # A private folder per run: two `dowel` commands (or a test run and the demo) building
        # at once must not read each other's half-written build.
        root: Path | None = default_build_dir().parent
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError:
            root = None  # a read-only install: the system's temporary folder then
        with tempfile.TemporaryDirectory(prefix="device-", dir=root) as tmp:
            compile_device(Path(tmp), src)
            files = {path: p.read_bytes() for path, p in board_files(Path(tmp)).items()}
    else:
        compile_device(build_dir, src)
        files = {path: p.read_bytes() for path, p in board_files(build_dir).items()}
    files[MANIFEST] = manifest_bytes(files)
    check_protected(files)

    board = Board(link)
    # The stopped firmware loop keeps its modules and objects in the heap (an ESP32_GENERIC's
    # is about 110 KB): a soft reset into the raw REPL frees them for hashing and uploading.
    reset = getattr(link.transport, "enter_raw_repl", None)
    if reset is not None:
        with contextlib.redirect_stdout(io.StringIO()):
            reset(soft_reset=True)
    state = board.probe(list(files))
    result = DeployResult(micropython=check_micropython(state["impl"], link.port))
    remote = state["hashes"]
    # Package files first, main.py after them: a cut mid-way never starts new main.py on old
    # modules.
    todo = sorted(
        (p for p in files if p != MANIFEST and remote.get(p) != sha256(files[p])),
        key=lambda p: (not p.startswith(PACKAGE_DIR + "/"), p),
    )
    stale = sorted(
        f"{PACKAGE_DIR}/{name}"
        for name in (state["pkg"] or [])
        if name.endswith((".py", ".mpy", ".tmp")) and f"{PACKAGE_DIR}/{name}" not in files
    )
    if todo or stale or remote.get(MANIFEST) != sha256(files[MANIFEST]):
        need = sum(len(files[p]) for p in todo) + len(files[MANIFEST])
        if 0 <= state["free"] < need:
            raise DeviceError(
                f"the board on {link.port} has {state['free']} bytes free, the firmware needs "
                f"{need}: pull the logs (`dowel logs`), then clear them on the board"
            )
        # No manifest while the files are mixed: a cut here reads as "not flashed".
        board.remove(MANIFEST)
        done = 0
        if progress:
            progress(done, need)
        for path in todo:
            board.makedirs(path)
            say(f"  upload {path} ({len(files[path])} bytes)")
            _upload(board, path, files[path], say)
            result.uploaded.append(path)
            done += len(files[path])
            if progress:
                progress(done, need)
        for path in stale:
            say(f"  remove stale {path}")
            board.remove(path)
            result.removed.append(path)
        _upload(board, MANIFEST, files[MANIFEST], say)
        result.uploaded.append(MANIFEST)
        if progress:
            progress(need, need)
    result.skipped = [p for p in files if p not in result.uploaded]

    board.soft_reset()
    answer = api.version(link)
    result.firmware = answer.firmware
    if answer.firmware != FIRMWARE or answer.protocol != PROTOCOL:
        raise DeviceError(
            f"after the upload the board answers firmware {answer.firmware} (protocol "
            f"{answer.protocol}), expected {FIRMWARE} ({PROTOCOL}): run `dowel flash` again"
        )
    return result
