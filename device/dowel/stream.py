"""Live readings for the host, printed over the raw REPL while the firmware loop is stopped.

    import dowel.stream
    dowel.stream.run(500, 10)      # 0.5 s of samples every 10 ms (100 Hz), t from 0
    dowel.stream.run(500, 10, 1)   # the next 0.5 s: t goes on from the previous call

Output, one line each (host_tools.board.livestream parses it):

    S <period_ms> <has_imu 0/1>
    <t_ms> <head> <midback> <sacrum> <pitch_ddeg>      one per sample; pitch 0 without IMU
    E <samples> <late>                                  late: slots skipped (behind schedule)

Text lines rather than packed frames: ~28 bytes a sample is 2.8 kB/s at 100 Hz, a quarter of a
115200-baud UART, and a line can be read by eye in `mpremote exec`. The host streams in short
calls that resume one schedule (`resume=1`): t_ms stays on the board's clock across calls, the
slots that fall between two calls are skipped, and no single call runs long, so the host sees
output while it streams even where output is only flushed when a call ends (the virtual board).

The host's Ctrl-C (entering the raw REPL) has already stopped the loop. This reuses the loop's
Board when there is one, so the ADC, buzzer and watchdog stay as the firmware set them, and
feeds the watchdog every sample.
"""

import time
from array import array

from dowel import running

_start = 0  # ticks_ms at t = 0 of the current schedule
_due = 0  # t_ms of the next slot
_pitch = None  # the IMU pitch filter, kept across resumed calls
_started = False


def run(duration_ms=1000, period_ms=10, resume=0):
    global _start, _due, _pitch, _started
    if period_ms < 1:
        period_ms = 1
    b = running.board()
    b.tone(0)
    imu = b.imu
    if not resume or not _started:
        _started = True
        _start = time.ticks_ms()
        _due = 0
        _pitch = None
        if imu is not None:
            from dowel.pitch import Pitch

            _pitch = Pitch()
    pitch = _pitch
    buf = array("H", (0, 0, 0))
    due = _due
    end = due + duration_ms
    print("S", period_ms, 1 if imu is not None else 0)
    count = 0
    late = 0
    while due < end:
        now = time.ticks_diff(time.ticks_ms(), _start)
        if now < due:
            time.sleep_ms(due - now)
            now = time.ticks_diff(time.ticks_ms(), _start)
        elif now - due >= period_ms:
            # A whole period behind (a slow print, the gap between two calls): skip the
            # missed slots and say so at the end.
            missed = (now - due) // period_ms
            late += missed
            due += missed * period_ms
            if due >= end:
                break
        b.read(buf)
        ddeg = 0
        if imu is not None and pitch is not None:
            imu.read()
            ddeg = pitch.update(imu.ax, imu.az)
        b.feed()
        print(now, buf[0], buf[1], buf[2], ddeg)
        count += 1
        due += period_ms
    _due = due
    print("E", count, late)
    return count
