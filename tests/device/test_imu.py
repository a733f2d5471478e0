"""`dowel.imu`: MPU6050 and MPU-6500 told apart by WHO_AM_I, each set up in its own filter
register, read without allocating, and brought back after a power cycle; on CPython with the
register-model bus of tests/fakes/i2c.py, then on the MicroPython interpreter with the same
fake."""

from __future__ import annotations

from pathlib import Path

import pytest
from dowel import imu

from tests.fakes.i2c import FakeI2C, Mpu

FAKE = (Path(__file__).parents[1] / "fakes" / "i2c.py").read_text()


@pytest.mark.parametrize(
    ("who", "name", "filter_reg", "untouched_reg", "pwr"),
    [
        (0x68, "MPU6050", 0x1A, 0x1D, 0x00),  # DLPF_CFG in CONFIG
        (0x98, "MPU6050", 0x1A, 0x1D, 0x00),  # a clone reading 0x98
        (0x70, "MPU-6500", 0x1D, 0x1A, 0x01),  # A_DLPF_CFG in ACCEL_CONFIG2, not CONFIG
    ],
)
def test_each_chip_gets_its_own_filter_register(who, name, filter_reg, untouched_reg, pwr):
    chip = Mpu(who)
    dev = imu.Imu(FakeI2C(chip))
    assert (dev.who_am_i, dev.name) == (who, name)
    assert chip.regs[0x6B] == pwr and not chip.asleep()
    assert chip.regs[0x1C] == 0x00  # +-2 g
    assert chip.regs[filter_reg] == 0x04  # ~20 Hz
    assert (untouched_reg, 0x04) not in chip.writes  # the other chip's register is left alone
    assert dev.configured()


def test_unknown_chip_is_named_not_taken_for_an_mpu6050():
    with pytest.raises(OSError, match=r"WHO_AM_I 0x71: not an MPU6050 \(0x68\) or MPU-6500"):
        imu.Imu(FakeI2C(Mpu(0x71)))


def test_no_device_raises_oserror():
    with pytest.raises(OSError):
        imu.Imu(FakeI2C())


@pytest.mark.parametrize("who", [0x68, 0x70])
def test_read_gives_signed_counts_on_each_axis(who):
    chip = Mpu(who, accel=(-16384, 123, 11585))
    dev = imu.Imu(FakeI2C(chip))
    dev.read()
    assert (dev.ax, dev.ay, dev.az) == (-16384, 123, 11585)


@pytest.mark.parametrize("who", [0x68, 0x70])
def test_a_power_cycled_imu_is_found_and_brought_back(who):
    chip = Mpu(who, accel=(16384, 0, 0))
    dev = imu.Imu(FakeI2C(chip))
    assert dev.restore() is False  # still set up: nothing written
    writes = len(chip.writes)
    assert len(chip.writes) == writes
    chip.power_cycle()
    if who == 0x68:
        dev.read()
        assert (dev.ax, dev.ay, dev.az) == (0, 0, 0)  # woke asleep: zeros
    assert not dev.configured()
    assert dev.restore() is True
    assert dev.configured()
    dev.read()
    assert dev.ax == 16384


def test_unplugged_imu_raises_oserror_from_read_and_restore():
    bus = FakeI2C(Mpu(0x70))
    dev = imu.Imu(bus)
    bus.unplug(0x68)
    with pytest.raises(OSError):
        dev.read()
    with pytest.raises(OSError):
        dev.restore()


@pytest.fixture(scope="module")
def run_mp():
    interp = pytest.importorskip("host_tools.vboard.interp")
    return interp.run_micropython


MICROPYTHON = """
import gc, micropython
from fake_i2c import FakeI2C, Mpu
from dowel.imu import Imu
def ticks(dev):
    for _ in range(100):
        dev.read()
        dev.restore()
for who in (0x68, 0x70):
    chip = Mpu(who, accel=(-16384, 5, 11585))
    dev = Imu(FakeI2C(chip))
    ticks(dev)  # warm up
    gc.collect()
    micropython.heap_lock()
    ticks(dev)
    micropython.heap_unlock()
    chip.power_cycle()
    again = dev.restore()
    dev.read()
    print(hex(dev.who_am_i), dev.name, dev.ax, dev.ay, dev.az, again, chip.regs[0x1A],
          chip.regs[0x1D])
try:
    Imu(FakeI2C(Mpu(0x71)))
except OSError as e:
    print("refused", e)
"""


@pytest.mark.vboard
def test_on_micropython_both_chips_read_without_allocating(run_mp):
    out = run_mp(MICROPYTHON, files={"fake_i2c.py": FAKE}).splitlines()
    assert out[0] == "0x68 MPU6050 -16384 5 11585 True 4 0"
    assert out[1] == "0x70 MPU-6500 -16384 5 11585 True 0 4"
    assert out[2].startswith("refused IMU at 0x68 has WHO_AM_I 0x71")


@pytest.mark.vboard
def test_on_the_virtual_boards_mpu6050_hal_finds_and_reads_it(run_mp):
    """The simulated `machine` wakes its MPU6050 asleep: hal's IMU must wake it to read 1 g."""
    code = (
        "from dowel import hal\n"
        "dev = hal.find_imu()\n"
        "dev.read()\n"
        "print(dev.name, hex(dev.who_am_i), dev.configured(), abs(dev.ax) + abs(dev.az) > 8000)\n"
    )
    assert run_mp(code).split() == ["MPU6050", "0x68", "True", "True"]
