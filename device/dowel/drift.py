"""Contact-level drift: each sensor's level while armed, against its calibrated level.

    drift = Drift(levels, cfg["drift_pct"])   # levels: sensors.X.level, head/midback/sacrum
    drift.update(readings, dt_ms)             # while armed (three-point neutral hold), every 16 ms
    if drift.moved(): ...                     # bit mask, bit 0 head .. bit 2 sacrum
    drift.save()                              # now and then, at a quiet moment: /drift.json
    report()                                  # host call: the state, for the recalibration prompt

FSRs creep under load and shift with temperature, and foam pads compress over weeks, so a
threshold set at one visit slowly stops fitting. While armed the patient stands in the same
neutral hold the calibration measured, so the readings then are directly comparable with the
calibrated contact level. `update` keeps an exponential moving average per sensor over armed
time only (time constant TAU_MS, so several armed periods contribute), in integer fixed point:
no allocation. A sensor counts as moved once the tracker has seen MIN_ARMED_MS of armed time
and its average differs from the calibrated level by more than drift_pct percent. A level of 0
(never calibrated) is never reported.
"""

import json

from dowel import atomic, running

try:
    from micropython import const
except ImportError:  # CPython: the host runs these same files

    def const(x):
        return x


PATH = "/drift.json"
TAU_MS = const(8000)
MIN_ARMED_MS = const(10000)
_SHIFT = const(8)  # fixed point: 65535 << 8 times a capped dt stays under 2**30 (a small int)
_DT_CAP_MS = const(40)
_ARMED_CAP_MS = const(1 << 29)


class Drift:
    def __init__(self, levels, drift_pct):
        self.levels = [levels[0], levels[1], levels[2]]
        self.drift_pct = drift_pct
        self.acc = [0, 0, 0]  # average << _SHIFT
        self.armed_ms = 0
        running.drift = self  # the tracker being fed: `report` prefers it to the file

    def update(self, readings, dt_ms):
        """One armed sample: `readings` holds the three raw counts, `dt_ms` since the last one."""
        acc = self.acc
        armed = self.armed_ms
        if armed == 0:
            acc[0] = readings[0] << _SHIFT
            acc[1] = readings[1] << _SHIFT
            acc[2] = readings[2] << _SHIFT
        else:
            if dt_ms > _DT_CAP_MS:
                dt_ms = _DT_CAP_MS
            # Unrolled: on MicroPython a loop over three costs more than its body.
            acc[0] += ((readings[0] << _SHIFT) - acc[0]) * dt_ms // TAU_MS
            acc[1] += ((readings[1] << _SHIFT) - acc[1]) * dt_ms // TAU_MS
            acc[2] += ((readings[2] << _SHIFT) - acc[2]) * dt_ms // TAU_MS
        armed += dt_ms
        if armed >= _ARMED_CAP_MS:
            armed = _ARMED_CAP_MS
        elif armed == 0:
            armed = 1  # the first sample counts as seen even with dt 0
        self.armed_ms = armed

    def current(self, i):
        return self.acc[i] >> _SHIFT

    def moved(self):
        """Bit mask of sensors whose average left the calibrated level by more than drift_pct."""
        if self.armed_ms < MIN_ARMED_MS:
            return 0
        mask = 0
        for i in range(3):
            level = self.levels[i]
            if level > 0:
                diff = (self.acc[i] >> _SHIFT) - level
                if diff < 0:
                    diff = -diff
                if diff * 100 > self.drift_pct * level:
                    mask |= 1 << i
        return mask

    def state(self):
        return {
            "levels": list(self.levels),
            "current": [self.current(0), self.current(1), self.current(2)],
            "armed_ms": self.armed_ms,
            "drift_pct": self.drift_pct,
            "moved": self.moved(),
        }

    def resume(self, path=PATH):
        """Carry on from a saved state taken against the same levels (a later boot, same
        calibration); a state for other levels is stale and ignored. Returns True if resumed."""
        saved = _read(path)
        if not saved or saved.get("levels") != self.levels or not saved.get("armed_ms"):
            return False
        self.acc = [c << _SHIFT for c in saved["current"]]
        self.armed_ms = saved["armed_ms"]
        return True

    def save(self, path=PATH):
        """Write the state whole (`dowel.atomic`). Allocates and touches flash: not in the tick
        path."""
        if self.armed_ms == 0:
            return
        atomic.write(path, json.dumps(self.state()))


def _read(path):
    try:
        with open(path) as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def report(path=PATH):
    """Host call: the drift state (dict as `Drift.state`) or None when nothing was tracked.
    The live tracker wins over the file: the host's Ctrl-C leaves it in memory, unsaved."""
    live = running.drift
    if live is not None and live.armed_ms:
        return live.state()
    return _read(path)


def reset(path=PATH):
    """Host call after a calibration: forget the old levels' state, in memory and on flash."""
    running.drift = None
    atomic.remove(path)
    return True
