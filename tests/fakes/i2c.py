"""A fake I2C bus with register models of the chips the dowel talks to, for CPython and for
the MicroPython interpreter alike (plain code: it is uploaded as a file there too).

    bus = FakeI2C(Mpu(0x70), Pcf8563Chip())
    bus.devices[0x68].power_cycle()        # back at its reset values: asleep (MPU6050), zeros
    bus.unplug(0x68)                        # every transfer to it raises OSError(ENODEV)

The register behaviour follows the data sheets the drivers cite: MPU6050 (register map rev
4.2) resets PWR_MGMT_1 to 0x40 (asleep) and its data registers hold zeros while asleep; the
MPU-6500 (register map rev 2.1) resets PWR_MGMT_1 to 0x01 and every filter register to 0;
the PCF8563 (NXP data sheet rev 11) powers up with VL set, which only a write of the seconds
clears, and ignores nothing else we write.
"""

ENODEV = 19


class Mpu:
    def __init__(self, who_am_i=0x68, accel=(0, 0, 16384)):
        self.who_am_i = who_am_i
        self.accel = accel  # counts the chip measures while awake
        self.writes = []  # (reg, value), in order
        self.power_cycle()

    def power_cycle(self):
        self.regs = bytearray(128)
        self.regs[0x75] = self.who_am_i
        self.regs[0x6B] = 0x01 if self.who_am_i == 0x70 else 0x40

    def asleep(self):
        return bool(self.regs[0x6B] & 0x40)

    def read_into(self, reg, buf):  # allocates nothing: runs under heap_lock on MicroPython
        regs = self.regs
        if not self.asleep():
            accel = self.accel
            for i in range(3):
                v = accel[i] & 0xFFFF
                regs[0x3B + 2 * i] = v >> 8
                regs[0x3C + 2 * i] = v & 0xFF
        for i in range(len(buf)):
            buf[i] = regs[reg + i]

    def write(self, reg, data):
        for i in range(len(data)):
            self.writes.append((reg + i, data[i]))
            if reg + i not in (0x75,) and not 0x3B <= reg + i <= 0x60:
                self.regs[reg + i] = data[i]


class Pcf8563Chip:
    def __init__(self):
        self.regs = bytearray(16)
        self.regs[0x02] = 0x80  # VL: power-on, time not valid
        self.regs[0x0D] = 0x80  # CLKOUT on
        self.stopped_writes = 0  # time-register writes made with STOP set

    def read_into(self, reg, buf):
        for i in range(len(buf)):
            buf[i] = self.regs[(reg + i) & 0x0F]

    def write(self, reg, data):
        for i in range(len(data)):
            r = (reg + i) & 0x0F
            if 0x02 <= r <= 0x08 and self.regs[0x00] & 0x20:
                self.stopped_writes += 1
            self.regs[r] = data[i]

    def battery_lost(self):
        """The coin cell ran down while the dowel was off."""
        self.regs[0x02] |= 0x80


class FakeI2C:
    def __init__(self, *chips):
        self.devices = {}
        for chip in chips:
            self.devices[0x51 if isinstance(chip, Pcf8563Chip) else 0x68] = chip
        self.unplugged = set()

    def unplug(self, addr):
        self.unplugged.add(addr)

    def _dev(self, addr):
        if addr in self.unplugged or addr not in self.devices:
            raise OSError(ENODEV)
        return self.devices[addr]

    def scan(self):
        return sorted(a for a in self.devices if a not in self.unplugged)

    def readfrom_mem(self, addr, reg, n):
        buf = bytearray(n)
        self._dev(addr).read_into(reg, buf)
        return bytes(buf)

    def readfrom_mem_into(self, addr, reg, buf):
        self._dev(addr).read_into(reg, buf)

    def writeto_mem(self, addr, reg, data):
        self._dev(addr).write(reg, data)
