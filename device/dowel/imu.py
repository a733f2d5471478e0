"""IMU drivers: the accelerometer of an MPU6050 or an MPU-6500, told apart by WHO_AM_I.

    imu = Imu(i2c)                  # raises OSError if nothing (or an unknown chip) answers
    imu.name, imu.who_am_i          # "MPU-6500", 0x70: for the boot line and the self-test
    imu.read()                      # updates imu.ax, imu.ay, imu.az (signed counts, 16384 per g)
    if imu.restore():               # it power-cycled (woke asleep, reads zeros): set up again
        ...

Takes any object with MicroPython's `I2C` memory calls (`readfrom_mem_into`, `writeto_mem`),
so the same file runs on the board, under CPython with a fake bus, and on the virtual board.
The per-tick calls (`read`, `restore`) write into buffers made here and allocate nothing.

Register maps: InvenSense "MPU-6000 and MPU-6050 Register Map and Descriptions" rev 4.2
(RM-MPU-6000A-00) and "MPU-6500 Register Map" rev 2.1 (RM-MPU-6500A-00). Both chips share the
accelerometer's data (ACCEL_XOUT_H 0x3B..0x40, big-endian), its full-scale register
ACCEL_CONFIG 0x1C (bits 4:3 = 0: +-2 g, 16384 LSB/g), PWR_MGMT_1 0x6B and WHO_AM_I 0x75. They
differ in the accelerometer's low-pass filter: on the MPU6050 it is DLPF_CFG in CONFIG 0x1A
(shared with the gyro); on the MPU-6500 it is A_DLPF_CFG in ACCEL_CONFIG2 0x1D, and 0x1A
filters only the gyro. Common "GY-521" boards carry either chip.
"""

try:
    from micropython import const
except ImportError:  # CPython: the host runs these same files

    def const(x):
        return x


ADDR = const(0x68)  # AD0 low (the GY-521 pulls it low)

_CONFIG = const(0x1A)
_ACCEL_CONFIG = const(0x1C)
_ACCEL_CONFIG2 = const(0x1D)
_ACCEL_XOUT_H = const(0x3B)
_PWR_MGMT_1 = const(0x6B)
_WHO_AM_I = const(0x75)
_SLEEP = const(0x40)  # PWR_MGMT_1 bit 6: set at power-up on the MPU6050 (its reset value 0x40)

COUNTS_PER_G = const(16384)  # ACCEL_CONFIG AFS_SEL / ACCEL_FS_SEL 0: +-2 g, on both chips


class Chip:
    """One family member: how to recognise it and where its accelerometer low-pass lives."""

    def __init__(self, name, who_am_i, pwr_mgmt_1, filter_reg, filter_val, filter_note):
        self.name = name
        self.who_am_i = who_am_i  # the values WHO_AM_I reads on this chip
        self.pwr_mgmt_1 = pwr_mgmt_1  # written to wake it: SLEEP clear, clock source
        self.filter_reg = filter_reg
        self.filter_val = filter_val
        self.filter_note = filter_note


# The loop reads the IMU every 16 ms (62.5 Hz, `dowel.app.SLOW_TICK_MS`): a ~20 Hz low-pass
# keeps what it reads under that rate's Nyquist frequency (31 Hz), and a hinge (under 2 Hz)
# passes whole. The delays below are from the register maps' filter tables.
CHIPS = (
    # MPU6050: WHO_AM_I 0x68 (rev 4.2, register 117); 0x98 is read on some clones sold as MPU6050.
    # PWR_MGMT_1 0x00: awake, internal 8 MHz oscillator. CONFIG DLPF_CFG 4: accelerometer
    # 21 Hz bandwidth, 8.5 ms delay (rev 4.2, register 26).
    Chip("MPU6050", (0x68, 0x98), 0x00, _CONFIG, 0x04, "21 Hz, 8.5 ms"),
    # MPU-6500: WHO_AM_I 0x70 (rev 2.1, register 117). PWR_MGMT_1 0x01: awake, CLKSEL 1 (the
    # best clock available: the PLL when ready). ACCEL_CONFIG2 0x04: ACCEL_FCHOICE_B 0 (the
    # filter in use), A_DLPF_CFG 4: 20 Hz bandwidth, 19.8 ms delay (rev 2.1, register 29).
    Chip("MPU-6500", (0x70,), 0x01, _ACCEL_CONFIG2, 0x04, "20 Hz, 19.8 ms"),
)


def chip_for(who_am_i):
    """The `Chip` whose WHO_AM_I is `who_am_i`, else None."""
    for chip in CHIPS:
        if who_am_i in chip.who_am_i:
            return chip
    return None


def who_am_i(i2c, addr=ADDR):
    """WHO_AM_I of whatever answers at `addr` (raises OSError if nothing does)."""
    return i2c.readfrom_mem(addr, _WHO_AM_I, 1)[0]


class Imu:
    """The accelerometer at +-2 g with a ~20 Hz low-pass, on either chip."""

    def __init__(self, i2c, addr=ADDR):
        self.i2c = i2c
        self.addr = addr
        self._buf = bytearray(6)
        self._one = bytearray(1)
        self.ax = 0
        self.ay = 0
        self.az = 0
        self.who_am_i = who_am_i(i2c, addr)
        chip = chip_for(self.who_am_i)
        if chip is None:
            raise OSError(
                "IMU at 0x%02x has WHO_AM_I 0x%02x: not an MPU6050 (0x68) or MPU-6500 "
                "(0x70)" % (addr, self.who_am_i)
            )
        self.chip = chip
        self.name = chip.name
        self.wake()

    def wake(self):
        """Set the chip up: awake, +-2 g, the low-pass. Also what brings back one that
        power-cycled (an MPU6050 wakes asleep and its data registers read zeros; either chip
        forgets its filter)."""
        chip = self.chip
        one = self._one
        one[0] = chip.pwr_mgmt_1
        self.i2c.writeto_mem(self.addr, _PWR_MGMT_1, one)
        one[0] = 0x00  # +-2 g
        self.i2c.writeto_mem(self.addr, _ACCEL_CONFIG, one)
        one[0] = chip.filter_val
        self.i2c.writeto_mem(self.addr, chip.filter_reg, one)

    def configured(self):
        """True while the chip still holds the set-up `wake()` wrote (two 1-byte reads)."""
        one = self._one
        self.i2c.readfrom_mem_into(self.addr, _PWR_MGMT_1, one)
        if one[0] & _SLEEP or one[0] != self.chip.pwr_mgmt_1:
            return False
        self.i2c.readfrom_mem_into(self.addr, self.chip.filter_reg, one)
        return one[0] == self.chip.filter_val

    def restore(self):
        """Set the chip up again if it lost its set-up (it power-cycled). True when it had to.
        Raises OSError if the chip does not answer (the caller carries on without pitch)."""
        if self.configured():
            return False
        self.wake()
        return True

    def read(self):
        """Update `ax`, `ay`, `az`: signed counts along the dowel (X), across it (Y) and out
        of the back (Z). Attributes, not a returned tuple: a tuple per read would allocate."""
        buf = self._buf
        self.i2c.readfrom_mem_into(self.addr, _ACCEL_XOUT_H, buf)
        ax = (buf[0] << 8) | buf[1]
        ay = (buf[2] << 8) | buf[3]
        az = (buf[4] << 8) | buf[5]
        if ax & 0x8000:
            ax -= 0x10000
        if ay & 0x8000:
            ay -= 0x10000
        if az & 0x8000:
            az -= 0x10000
        self.ax = ax
        self.ay = ay
        self.az = az
