"""Trunk pitch from the MPU6050 accelerometer, in integer deci-degrees.

    pitch = Pitch()
    ddeg = pitch.update(ax, az)   # signed accelerometer counts: X up the dowel, Z out of the back

    pitch = Pitch(sample_ms=16)   # fed every 16 ms: the same time constant, weight per sample

Why accelerometer only, no gyro fusion: a hip hinge is slow (1-3 s down, similar up), so the
trunk's own acceleration stays under about 0.1 g and tilts the gravity estimate by under 6
degrees at the worst moment, less than the spread between reps; a first-order low-pass
(time constant ~30 ms) removes sensor noise and hand tremor. A complementary filter would add
a gyro read (6 more bytes over I2C per sample) and a bias to calibrate for a gain smaller than
that spread.

The low-pass weighs each sample by 1/8 when fed every 4 ms (the loop's tick); fed less often,
each sample weighs more, so the time constant stays ~30 ms: w = 1 - (7/8) ** (sample_ms / 4).

All integer maths, so `update` allocates nothing on MicroPython (floats are heap objects there).
"""

try:
    from micropython import const
except ImportError:  # CPython: the host runs these same files

    def const(x):
        return x


_ONE = const(1 << 10)  # fixed-point 1.0: keeps every product under 2**30, a small int
_DDEG_45 = const(450)
_DDEG_90 = const(900)
_DDEG_180 = const(1800)
_WEIGHT_SHIFT = const(8)  # the low-pass weight is in 256ths
_BASE_SAMPLE_MS = const(4)  # at this sample period the weight is 1/8


def atan2_ddeg(y, x):
    """atan2(y, x) in deci-degrees (-1800..1800) from integers; error under 0.4 degrees.

    Octant reduction, then atan(t) ~ t * (45 + 15.6 * (1 - t)) degrees for 0 <= t <= 1
    (Rajan et al., "Efficient approximations for the arctangent function", 2006).
    """
    if x == 0 and y == 0:
        return 0
    ay = -y if y < 0 else y
    ax = -x if x < 0 else x
    if ax >= ay:
        t = (ay * _ONE) // ax
        angle = (t * (_DDEG_45 * _ONE + 156 * (_ONE - t))) >> 20
    else:
        t = (ax * _ONE) // ay
        angle = _DDEG_90 - ((t * (_DDEG_45 * _ONE + 156 * (_ONE - t))) >> 20)
    if x < 0:
        angle = _DDEG_180 - angle
    return -angle if y < 0 else angle


class Pitch:
    def __init__(self, sample_ms=_BASE_SAMPLE_MS):
        self.ddeg = 0
        self._primed = False
        # Out of 256: 32 (1/8, exactly the shift by 3 it replaces) at 4 ms, 106 at 16 ms.
        self._weight = round((1 << _WEIGHT_SHIFT) * (1 - 0.875 ** (sample_ms / _BASE_SAMPLE_MS)))

    def update(self, ax, az):
        """Feed one accelerometer sample; return the smoothed pitch in deci-degrees."""
        raw = atan2_ddeg(az, ax)
        if self._primed:
            self.ddeg += ((raw - self.ddeg) * self._weight) >> _WEIGHT_SHIFT
        else:
            self.ddeg = raw
            self._primed = True
        return self.ddeg
