"""Per-sensor contact debounce with hysteresis: one small state machine per FSR.

    head = Contact(on=20000, off=16000, loss_ms=120, regain_ms=200)
    event = head.update(reading, dt_ms)   # NO_EVENT, LOST or CONTACT

The rule (README, "Debounce rule"): a *touch run* starts at a reading >= on and ends at the first
later reading < off; a *dip* is the reverse. Readings between off and on extend whatever is
going. Not in contact, CONTACT fires at the first sample at least `regain_ms` after the run's
first sample while the run goes on; in contact, LOST fires at the first sample at least
`loss_ms` after the dip's first sample while the dip goes on.

At a LOST, `age_ms` is how long ago the dip's first sample was (at a CONTACT, the run's): the
point left then, `loss_ms` or more before the event, and that is where the rep machine logs
the loss (`dowel.engine` passes it on as `RepMachine.dip_ms`).

The caller passes the milliseconds since the previous sample, never a clock: the loop turns
`ticks_ms` into `dt_ms` with `ticks_diff`, and `dowel replay` subtracts trace times.
Everything is a small int, so `update` allocates nothing on MicroPython.
"""

try:
    from micropython import const
except ImportError:  # CPython: the host runs these same files

    def const(x):
        return x


NO_EVENT = const(0)
LOST = const(1)
CONTACT = const(2)

# The reading's level: no run or dip seen yet, in a dip, in a touch run.
LEVEL_NONE = const(0)
LEVEL_LOW = const(1)
LEVEL_HIGH = const(2)

# Ages saturate here: far above any window (max 2000 ms), and a small int on every port.
_AGE_CAP_MS = const(1 << 20)
_BEYOND = const(1 << 20)  # past any reading (read_u16 counts are 0..65535)


class Contact:
    def __init__(self, on, off, loss_ms, regain_ms):
        self.on = on
        self.off = off
        self.loss_ms = loss_ms
        self.regain_ms = regain_ms
        self.touching = False  # the debounced state
        self.level = LEVEL_NONE
        self.age_ms = 0  # since the current run or dip began, saturating; see `_settle`
        self._settle()

    def update(self, reading, dt_ms):
        """Feed one sample taken `dt_ms` after the previous one; return the event it causes."""
        if self.quiet_lo <= reading < self.quiet_hi:
            return NO_EVENT  # most ticks: see `_settle`
        age = self.age_ms + dt_ms
        if age > _AGE_CAP_MS:
            age = _AGE_CAP_MS
        if reading >= self.on:
            if self.level != LEVEL_HIGH:
                self.level = LEVEL_HIGH
                age = 0
        elif reading < self.off:
            if self.level != LEVEL_LOW:
                self.level = LEVEL_LOW
                age = 0
        self.age_ms = age
        event = NO_EVENT
        if self.touching:
            if self.level == LEVEL_LOW and age >= self.loss_ms:
                self.touching = False
                event = LOST
        elif self.level == LEVEL_HIGH and age >= self.regain_ms:
            self.touching = True
            event = CONTACT
        self._settle()
        return event

    def _settle(self):
        """Set the quiet band: the readings that can change nothing in the present state, so
        `update` returns at once (one comparison, where MicroPython's attribute loads and
        calls dominate). In contact and pressing, any reading >= off; out of contact with no
        touch run going, any reading < on. The age is not kept up there: it is only read while
        a run or a dip is being timed, and the next run or dip restarts it at 0. While one is
        timed the band is empty. Out of contact, no level yet (LEVEL_NONE) is the same as a
        dip: both wait for a touch run."""
        if self.touching:
            if self.level == LEVEL_HIGH:
                self.quiet_lo = self.off
                self.quiet_hi = _BEYOND
                return
        elif self.level != LEVEL_HIGH:
            self.quiet_lo = -_BEYOND
            self.quiet_hi = self.on
            return
        self.quiet_lo = _BEYOND  # empty
        self.quiet_hi = -_BEYOND

    def firm(self):
        """In contact and not dipping: the point still presses the dowel right now."""
        return self.touching and self.level != LEVEL_LOW
