"""The virtual board's flash: littlefs v2 on a NOR-flash model kept in an image file.

    bdev = Flash("/path/flash.img")     # 512 blocks of 4096 bytes: ESP32_GENERIC's vfs partition
    vfs.mount(bdev, "/")                 # what the esp32 port's _boot.py does

The block-device protocol of `esp32.Partition` (ports/esp32/esp32_partition.c): readblocks and
writeblocks with a byte offset, erase with ioctl 6. NOR semantics: an erase sets a 4 KB block to
0xFF, a program can only clear bits (the new bytes are ANDed in), so littlefs gets no help this
model does not give it. Timing from a typical 4 MB part of an ESP32 module (Winbond W25Q32JV
datasheet: 4 KB sector erase 45 ms typical, page program 0.4 ms typical per 256 bytes): the
process stalls meanwhile, as the ESP32's CPUs do while its cache is off for a flash write.

Each operation is announced to the daemon (EV_FLASH), which holds a host Ctrl-C until it ends:
the unix port raises KeyboardInterrupt from its signal handler at once, while an ESP32 raises it
at the VM's next check, after the flash driver has returned. Every write and erase goes through
`_vbhw.flash_op()`: a power cut armed by the daemon stops the
board just before the chosen operation (optionally leaving part of a program written), so the
image keeps exactly what littlefs had committed.
"""

import time

import _vbhw
from micropython import const

BLOCK = const(4096)
_PAGE = const(256)
ERASE_US = const(45000)
PAGE_US = const(400)


class Flash:
    def __init__(self, path, timing=True):
        self._f = open(path, "r+b")
        self._f.seek(0, 2)
        self.blocks = self._f.tell() // BLOCK
        self._timing = timing
        self._old = bytearray(BLOCK)
        self.erases = 0
        self.programs = 0

    def readblocks(self, n, buf, off=0):
        f = self._f
        f.seek(n * BLOCK + off)
        f.readinto(buf)

    def writeblocks(self, n, buf, off=None):
        if off is None:  # the simple protocol: erase the blocks, then program them
            for i in range(len(buf) // BLOCK):
                self._erase(n + i)
            off = 0
        self._program(n * BLOCK + off, buf)

    def ioctl(self, op, arg):
        if op == 4:  # BP_IOCTL_SEC_COUNT
            return self.blocks
        if op == 5:  # BP_IOCTL_SEC_SIZE
            return BLOCK
        if op == 6:  # BP_IOCTL_SEC_ERASE
            self._erase(arg)
            return 0
        return 0

    def _erase(self, n):
        if _vbhw.flash_op():
            _vbhw.halt()
        _vbhw.event(_vbhw.EV_FLASH, 0, 1)
        self.erases += 1
        f = self._f
        f.seek(n * BLOCK)
        old = self._old
        for i in range(BLOCK):
            old[i] = 0xFF
        f.write(old)
        self._stall(ERASE_US)
        _vbhw.event(_vbhw.EV_FLASH, 0, 0)

    def _program(self, addr, buf):
        n = len(buf)
        torn = _vbhw.flash_op()
        _vbhw.event(_vbhw.EV_FLASH, 0, 1)
        self.programs += 1
        f = self._f
        mv = memoryview(self._old)[:n] if n <= BLOCK else bytearray(n)
        f.seek(addr)
        f.readinto(mv)
        for i in range(n):
            mv[i] &= buf[i]
        if torn:
            if _vbhw.cut_torn():
                f.seek(addr)
                f.write(mv[: n // 2])  # the power went mid-program: half of it landed
            _vbhw.halt()
        f.seek(addr)
        f.write(mv)
        self._stall(PAGE_US * ((n + _PAGE - 1) // _PAGE))
        _vbhw.event(_vbhw.EV_FLASH, 0, 0)

    def _stall(self, us):
        if not self._timing:
            return
        end = time.ticks_add(time.ticks_us(), us)
        while True:
            left = time.ticks_diff(end, time.ticks_us())
            if left <= 0:
                return
            time.sleep_us(left)
