"""Log stores written as the firmware writes them, on the host: the real `dowel.logstore` on a
folder (a fake board's or the virtual board's flash, or a plain temp dir), with sessions of
random but plausible reps.

    write_scenario(tmp_path / "flash" / "logs", random_sessions(random.Random(1), 3, 12))
"""

from __future__ import annotations

import random
from pathlib import Path

from dowel import logstore


def write_scenario(
    root: Path,
    sessions: list[list[tuple]],
    *,
    segment_bytes: int = 32768,
    has_imu: bool | None = None,
    device_id: bytes = b"\xa4\xcf\x12\x34\x56\x78",
    patient: str = "P-0001",
    rtc=None,
    boot: int | None = None,
) -> None:
    """Write sessions of reps (add_rep argument tuples) the way the firmware does, in one
    boot (`boot`: its number, None: random). `has_imu` None: a session has an IMU when its
    first rep has a depth."""
    root.parent.mkdir(parents=True, exist_ok=True)
    log = logstore.Log(root=str(root), segment_bytes=segment_bytes, boot=boot)
    for i, reps in enumerate(sessions):
        imu = has_imu if has_imu is not None else bool(reps) and reps[0][7] is not None
        log.begin_session(device_id, "0.1.0", b"\x01" * 8, patient, rtc, 1000 + i, imu)
        for rep in reps:
            assert log.add_rep(*rep)
    log.close()


def random_rep(rng: random.Random, seq: int, start_ms: int, has_imu: bool = True) -> tuple:
    """A plausible rep (mostly short-form, sometimes not)."""
    duration = rng.choice([rng.randint(1500, 9000), rng.randint(0, 40000)])
    lost_mask = rng.choice([0, 0, 0, 1, 2, 4, 5, 7])
    first = (lost_mask & -lost_mask).bit_length()  # lowest point lost: 1 head .. 3 sacrum
    loss_at = rng.randint(0, duration) if lost_mask else None
    if not has_imu:
        return (seq, start_ms, duration, lost_mask, first, loss_at, None, None, None, None, None)
    pitch = rng.randint(-300, 1100) if lost_mask else None
    depth = rng.randint(-100, 1200)
    lower = rng.randint(0, duration)
    pause = rng.randint(0, duration - lower)
    rise = duration - lower - pause if rng.random() < 0.9 else rng.randint(0, 5000)
    return (seq, start_ms, duration, lost_mask, first, loss_at, pitch, depth, lower, pause, rise)


def random_sessions(
    rng: random.Random, n_sessions: int, reps_per: int, has_imu: bool = True
) -> list[list[tuple]]:
    sessions = []
    for _ in range(n_sessions):
        reps, t = [], 0
        for seq in range(reps_per):
            rep = random_rep(rng, seq, t, has_imu)
            reps.append(rep)
            t = rep[1] + rep[2] + rng.choice([rng.randint(0, 5000), rng.randint(0, 200000)])
        sessions.append(reps)
    return sessions
