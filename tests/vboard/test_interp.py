"""The one-shot runner: code on the real MicroPython interpreter with the device files and the
simulated machine, for test vectors and allocation tests."""

from __future__ import annotations

import pytest

from host_tools.vboard.interp import MicroPythonError, run_micropython

from .conftest import need_interpreter

pytestmark = pytest.mark.vboard


@pytest.fixture(autouse=True)
def _interpreter():
    need_interpreter()


def test_prints_and_sees_the_device_package():
    out = run_micropython(
        "import sys\nfrom dowel import pinmap\nprint(sys.implementation.name, pinmap.SENSOR_PINS)"
    )
    assert out == "micropython (34, 35, 32)\n"


def test_extra_files_and_no_device_dir():
    out = run_micropython(
        "import calc\nprint(calc.double(21))",
        files={"calc.py": "def double(x):\n    return 2 * x\n"},
        device_dir=False,
    )
    assert out == "42\n"
    with pytest.raises(MicroPythonError, match="no module named 'dowel'"):
        run_micropython("import dowel.pinmap", device_dir=False)


def test_uncaught_exception_raises_with_the_traceback():
    with pytest.raises(MicroPythonError) as exc:
        run_micropython("print('partial')\ndef f():\n    raise KeyError('k')\nf()")
    assert "KeyError: k" in str(exc.value) and "line 3, in f" in str(exc.value)
    assert exc.value.output == "partial\n"


def test_simulated_machine_reads_allocate_nothing():
    code = """
import micropython
from machine import ADC, I2C, PWM, Pin
adc = ADC(Pin(34), atten=ADC.ATTN_11DB)
i2c = I2C(0, scl=Pin(22), sda=Pin(21), freq=400000)
i2c.writeto_mem(0x68, 0x6B, b'\\x00')
buf = bytearray(14)
pwm = PWM(Pin(25), freq=2000, duty_u16=0)
led = Pin(2, Pin.OUT)
def step():
    v = adc.read_u16()
    i2c.readfrom_mem_into(0x68, 0x3B, buf)
    pwm.freq(1760)
    pwm.duty_u16(32768)
    led.value(1)
    pwm.duty_u16(0)
    return v
step()
micropython.heap_lock()
try:
    step()
finally:
    micropython.heap_unlock()
print('clean')
micropython.heap_lock()
try:
    x = [1, 2, 3]
finally:
    micropython.heap_unlock()
"""
    with pytest.raises(MicroPythonError, match="MemoryError") as exc:
        run_micropython(code, device_dir=False)
    assert exc.value.output == "clean\n"  # the step passed; only the list allocated


def test_asyncio_run_returns_when_main_ends():
    code = (
        "import asyncio\nasync def main():\n    await asyncio.sleep_ms(30)\n"
        "    print('main ran')\n    raise ValueError('late')\nasyncio.run(main())"
    )
    with pytest.raises(MicroPythonError, match="ValueError: late") as exc:
        run_micropython(code, device_dir=False)
    assert exc.value.output == "main ran\n"


def test_timeout_is_reported():
    with pytest.raises(MicroPythonError, match="timed out"):
        run_micropython("while True:\n    pass", device_dir=False, timeout=2)


def test_mpu6050_model_follows_the_axis_convention():
    # Idle dowel lying on a table (pitch 90): gravity along Z; the sensor wakes up asleep.
    out = run_micropython(
        """
from machine import I2C, Pin
i2c = I2C(0, scl=Pin(22), sda=Pin(21))
def s16(b, i):
    v = b[i] << 8 | b[i + 1]
    return v - 65536 if v & 0x8000 else v
print(s16(i2c.readfrom_mem(0x68, 0x3F, 2), 0))
i2c.writeto_mem(0x68, 0x6B, b'\\x00')
i2c.writeto_mem(0x68, 0x1C, b'\\x08')  # +-4 g: 8192 per g
b = i2c.readfrom_mem(0x68, 0x3B, 14)
print(round(s16(b, 0) / 8192, 1), round(s16(b, 4) / 8192, 1), round(s16(b, 6) / 340 + 36.53))
""",
        device_dir=False,
    )
    assert out == "0\n0.0 1.0 25\n"
