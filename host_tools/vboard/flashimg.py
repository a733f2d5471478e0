"""The files of a virtual board's flash image, from the host (PyPI `littlefs-python`).

    from host_tools.vboard import flashimg
    flashimg.read(board.flash_dir, "logs/s1.dwl")    # bytes; works while the board runs
    flashimg.files(image)                             # {"/boot.py": b"...", "/logs/s1.dwl": ...}
    with flashimg.edit(image) as fs:                  # the board stopped; saved at the end
        fs.write("dowel.json", b"{...}")

The image is what the board mounts (vboard/py/_vbboot.py, as ports/esp32/modules/_boot.py does):
littlefs v2 on 512 blocks of 4096 bytes, the ESP32_GENERIC `vfs` partition (docs/esp32-facts.md
section 4). The geometry is MicroPython's `vfs.VfsLfs2` defaults, which the board uses: read and
prog size 32, lookahead 32 bytes (`lfs_make_allowed_args`, extmod/vfs_lfs.c), block_cycles 100
and cache min(block, 4 * max(read, prog)) = 128 (`init_config`, extmod/vfs_lfsx.c), name_max
0 = LFS2_NAME_MAX 255 (lib/littlefs/lfs2.h). `littlefs-python` 0.19 bundles the same littlefs
(2.11, on-disk version 2.1) as MicroPython.

A read while the board runs sees what the board's littlefs has committed to the image (a file
it holds open shows its last flush); a write needs the board stopped (the board's littlefs
keeps state in RAM that a change behind its back would corrupt): use `mpremote fs cp` then.
Paths are board paths ("/logs/a.dwl" or "logs/a.dwl").
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from littlefs import LittleFS, LittleFSError, UserContext

from host_tools.errors import DeviceError
from host_tools.vboard import state

BLOCK_SIZE = 4096
BLOCK_COUNT = 512
READ_SIZE = 32
PROG_SIZE = 32
LOOKAHEAD = 32
CACHE_SIZE = 128
BLOCK_CYCLES = 100
NAME_MAX = 255
IMAGE_BYTES = BLOCK_SIZE * BLOCK_COUNT


def image_path(path: Path | str) -> Path:
    """The image for `path`: an `.img` file itself, otherwise `flash.img` in that folder (as
    `VirtualBoard.start(flash_dir=...)` takes it)."""
    path = Path(path)
    return path if path.suffix == ".img" else path / "flash.img"


class FlashFS:
    """A littlefs mounted from an image held in memory; `save()` writes it back."""

    def __init__(self, image: Path, data: bytearray):
        self.image = image
        self._buf = data
        self._fs = LittleFS(
            context=UserContext(buffer=data),
            block_size=BLOCK_SIZE,
            block_count=BLOCK_COUNT,
            read_size=READ_SIZE,
            prog_size=PROG_SIZE,
            lookahead_size=LOOKAHEAD,
            cache_size=CACHE_SIZE,
            block_cycles=BLOCK_CYCLES,
            name_max=NAME_MAX,
            mount=False,
        )
        if all(b == 0xFF for b in memoryview(data)[:BLOCK_SIZE]):
            # A blank image: the board formats it at its first boot (inisetup.setup()).
            self._fs.format()
        try:
            self._fs.mount()
        except LittleFSError as exc:
            raise DeviceError(
                f"{image} holds no littlefs the board can mount ({exc}); "
                "start a board on it once to format it, or delete it"
            ) from None

    @staticmethod
    def _p(path: str) -> str:
        return "/" + str(path).lstrip("/")

    def read(self, path: str) -> bytes:
        try:
            with self._fs.open(self._p(path), "rb") as f:
                return f.read()
        except LittleFSError as exc:
            raise FileNotFoundError(f"{path} on {self.image}: {exc}") from None

    def exists(self, path: str) -> bool:
        try:
            self._fs.stat(self._p(path))
        except LittleFSError:
            return False
        return True

    def is_dir(self, path: str) -> bool:
        try:
            return self._fs.stat(self._p(path)).type == 2  # LFS_TYPE_DIR
        except LittleFSError:
            return False

    def listdir(self, path: str = "/") -> list[str]:
        return sorted(self._fs.listdir(self._p(path)))

    def files(self) -> dict[str, bytes]:
        """Every file, by its absolute board path."""
        out: dict[str, bytes] = {}
        for root, _dirs, names in self._fs.walk("/"):
            for name in names:
                path = root.rstrip("/") + "/" + name
                out[path] = self.read(path)
        return dict(sorted(out.items()))

    def write(self, path: str, data: bytes | str) -> None:
        """Write a file, making its folders."""
        p = self._p(path)
        parent = p.rsplit("/", 1)[0]
        if parent:
            self._fs.makedirs(parent, exist_ok=True)
        with self._fs.open(p, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)

    def mkdir(self, path: str) -> None:
        self._fs.makedirs(self._p(path), exist_ok=True)

    def remove(self, path: str) -> None:
        self._fs.remove(self._p(path))

    def statvfs(self) -> tuple[int, int, int]:
        """(block size, block count, blocks in use)."""
        return BLOCK_SIZE, BLOCK_COUNT, self._fs.used_block_count

    def save(self) -> None:
        self._fs.unmount()
        with open(self.image, "r+b" if self.image.exists() else "wb") as f:
            f.write(self._buf)
        self._fs.mount()


def _load(path: Path | str, create: bool = False) -> FlashFS:
    image = image_path(path)
    if not image.exists():
        if not create:
            raise DeviceError(f"no flash image at {image}: start a virtual board on it first")
        return FlashFS(image, bytearray(b"\xff" * IMAGE_BYTES))
    data = bytearray(image.read_bytes())
    if len(data) != IMAGE_BYTES:
        raise DeviceError(
            f"{image} is {len(data)} bytes, not a flash image of {IMAGE_BYTES} "
            f"({BLOCK_COUNT} blocks of {BLOCK_SIZE})"
        )
    return FlashFS(image, data)


def open_image(path: Path | str) -> FlashFS:
    """A snapshot of the image's file system, to read (changes stay in memory)."""
    return _load(path)


def read(path: Path | str, file: str) -> bytes:
    """One file of the image (FileNotFoundError when it has none)."""
    return _load(path).read(file)


def exists(path: Path | str, file: str) -> bool:
    return _load(path).exists(file)


def listdir(path: Path | str, folder: str = "/") -> list[str]:
    return _load(path).listdir(folder)


def files(path: Path | str) -> dict[str, bytes]:
    return _load(path).files()


@contextlib.contextmanager
def edit(path: Path | str) -> Iterator[FlashFS]:
    """Change the image's files with no board running on it (a new image is made if there is
    none, as the board's first boot would format it); saved when the block ends."""
    image = image_path(path)
    if state.is_locked(image):
        raise DeviceError(
            f"the flash image {image} is in use by a running virtual board: stop it first "
            "(`dowel vboard stop`), or copy files with `mpremote fs cp`"
        )
    image.parent.mkdir(parents=True, exist_ok=True)
    fs = _load(image, create=True)
    yield fs
    fs.save()


def write(path: Path | str, files_: dict[str, bytes | str]) -> None:
    """Write `files_` ({board path: content}) into the image, the board stopped."""
    with edit(path) as fs:
        for name, data in files_.items():
            fs.write(name, data)
