"""Test vectors for the device core, shared by the CPython tests and the MicroPython run.

A vector is a trace (t_ms, reading) for one sensor with its thresholds and windows; the expected
events come from `reference_debounce`, written straight from the rule in the README rather than
from the firmware's code. `make_vectors()` is deterministic: the same list on every run, so the
very same cases run under CPython and on the MicroPython interpreter.
"""

from __future__ import annotations

import random

ON, OFF = 20000, 16000


def reference_debounce(samples, on, off, loss_ms, regain_ms):
    """The README's rule, with absolute times: [(t_ms, "lost"|"contact"), ...]."""
    events = []
    touching = False
    run_start = dip_start = None
    for t, reading in samples:
        if reading >= on:
            if run_start is None:
                run_start = t
            dip_start = None
        elif reading < off:
            if dip_start is None:
                dip_start = t
            run_start = None
        if not touching and run_start is not None and t - run_start >= regain_ms:
            touching = True
            events.append((t, "contact"))
        elif touching and dip_start is not None and t - dip_start >= loss_ms:
            touching = False
            events.append((t, "lost"))
    return events


def _segments_trace(rng: random.Random, loss_ms: int, regain_ms: int) -> list[tuple[int, int]]:
    """Press, hold, dips and runs shorter and longer than the windows, band readings, chatter,
    irregular spacing."""
    samples = []
    t = rng.randrange(0, 1000)
    for _ in range(rng.randrange(1, 14)):
        kind = rng.choice(["high", "low", "band", "chatter"])
        window = loss_ms if kind == "low" else regain_ms
        length = rng.choice(
            [window - 1, window, window + 1, window // 2, window * 2, rng.randrange(1, 3 * window)]
        )
        end = t + max(1, length)
        while t < end:
            if kind == "high":
                value = rng.randrange(ON, 65536)
            elif kind == "low":
                value = rng.randrange(0, OFF)
            elif kind == "band":
                value = rng.randrange(OFF, ON)
            else:
                value = rng.choice([rng.randrange(0, OFF), rng.randrange(OFF, ON), ON + 5])
            samples.append((t, value))
            t += rng.choice([1, 2, 3, 5, 5, 5, 7, 10, 23])
    return samples


def make_vectors(count: int = 300, seed: int = 20261122) -> list[dict]:
    rng = random.Random(seed)
    vectors = []
    for i in range(count):
        loss_ms = rng.choice([20, 50, 120, 333, 1000])
        regain_ms = rng.choice([20, 80, 200, 777, 2000])
        samples = _segments_trace(rng, loss_ms, regain_ms)
        vectors.append(
            {
                "name": f"v{i}",
                "on": ON,
                "off": OFF,
                "loss_ms": loss_ms,
                "regain_ms": regain_ms,
                "samples": samples,
                "expected": reference_debounce(samples, ON, OFF, loss_ms, regain_ms),
            }
        )
    # Hand-made edges: exactly at the window, band readings extending a dip, the on/off bounds.
    edge = [(0, ON), (199, ON), (200, ON), (300, OFF - 1), (419, OFF), (420, ON - 1), (500, ON)]
    vectors.append(
        {
            "name": "edges",
            "on": ON,
            "off": OFF,
            "loss_ms": 120,
            "regain_ms": 200,
            "samples": edge,
            "expected": reference_debounce(edge, ON, OFF, 120, 200),
        }
    )
    return vectors


# Runs unchanged on MicroPython: feeds each vector through dowel.contact and prints the events.
MICROPYTHON_RUNNER = """
import json
from dowel.contact import Contact, LOST, CONTACT
vectors = json.loads(VECTORS_JSON)
out = []
for v in vectors:
    c = Contact(v["on"], v["off"], v["loss_ms"], v["regain_ms"])
    last = None
    got = []
    for t, r in v["samples"]:
        e = c.update(r, 0 if last is None else t - last)
        last = t
        if e == LOST:
            got.append([t, "lost"])
        elif e == CONTACT:
            got.append([t, "contact"])
    out.append(got)
print(json.dumps(out))
"""
