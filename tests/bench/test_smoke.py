"""The benchmark runs, its corpus keeps its contract, and its scoring is right: the firmware's
debouncer scores no miss, no false event and no late or early `lost` on the whole corpus (all
on trace time, so correctness, not timing). No timing figure is asserted anywhere here."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.corpus import FAMILIES, NOISE_COUNTS, PERIODS_MS, Params, Trace, make_corpus
from bench.detectors import (
    Detector,
    detectors,
    run_adafruit,
    run_chumicro,
    run_contact,
    run_raw_threshold,
    score_detector,
)
from bench.run import FULL, main
from host_tools.paths import repo_root

P = Params.from_config()


@pytest.fixture(scope="module")
def corpus() -> list[Trace]:
    return make_corpus(FULL["traces"], P)


def _in(t: int, intervals: tuple[tuple[int, int], ...]) -> bool:
    return any(a <= t < b for a, b in intervals)


def test_corpus_is_seeded_and_keeps_its_contract(corpus):
    assert len(corpus) >= 200
    assert make_corpus(30, P) == corpus[:30]  # seeded, and a short corpus is a prefix
    assert make_corpus(5, P, seed=9) != corpus[:5]
    assert {t.family for t in corpus} == set(FAMILIES)
    assert {t.noise_counts for t in corpus} == set(NOISE_COUNTS)
    assert {t.period_ms for t in corpus} == set(PERIODS_MS)
    assert sum(len(t.losses) for t in corpus) >= 200
    for t in corpus:
        gaps = [b - a for a, b in zip(t.times_ms, t.times_ms[1:], strict=False)]
        assert min(gaps) >= 1 and max(gaps) <= t.max_gap_ms
        for a, b in t.losses:
            assert b - a >= P.loss_ms + 2 * t.max_gap_ms, t.name
        for a, b in t.dips:
            assert 0 < b - a < P.loss_ms, t.name
        if t.noise_counts == 0:  # without noise every sample sits on its side of the band
            for when, reading in zip(t.times_ms, t.readings, strict=True):
                gone = _in(when, t.losses) or _in(when, t.dips)
                assert (reading < P.off) if gone else (reading >= P.on), (t.name, when)


def test_firmware_debouncer_meets_the_rule_on_the_whole_corpus(corpus):
    ours = Detector("dowel Contact", "", run_contact(P))
    s = score_detector(ours, corpus, P)
    assert s.losses >= 200
    assert (s.missed, s.false_lost, s.late, s.early) == (0, 0, 0, 0), (
        s.missed_names[:5],
        s.false_names[:5],
    )
    assert len(s.latencies_ms) == s.losses and min(s.latencies_ms) >= 0
    other = score_detector(ours, make_corpus(120, P, seed=1), P)
    assert (other.missed, other.false_lost, other.late, other.early) == (0, 0, 0, 0)


def test_scoring_counts_misses_false_events_early_and_late(corpus):
    never = score_detector(Detector("never", "", lambda trace: []), corpus[:40], P)
    assert never.missed == never.losses > 0 and never.false_lost == 0

    raw = score_detector(Detector("raw", "", run_raw_threshold(P)), corpus[:40], P)
    assert raw.missed == 0 and raw.early == raw.losses  # fires on the loss's first sample
    assert raw.false_lost > 0 and raw.false_by_family.get("dips", 0) > 0

    def one_sample_late(trace: Trace):
        events = run_contact(P)(trace)
        after = dict(zip(trace.times_ms, trace.times_ms[1:], strict=False))
        return [(after.get(t, t), kind) for t, kind in events]

    late = score_detector(Detector("late", "", one_sample_late), corpus[:40], P)
    assert late.missed == 0 and late.late == late.losses


def _step_trace(levels: list[tuple[int, int]], period_ms: int = 10) -> Trace:
    times, readings = [], []
    t = 0
    for length_ms, level in levels:
        end = t + length_ms
        while t < end:
            times.append(t)
            readings.append(level)
            t += period_ms
    return Trace("hand", "losses", 0, period_ms, period_ms, tuple(times), tuple(readings), (), ())


def test_peer_libraries_run_on_trace_time_not_the_wall_clock():
    import adafruit_debouncer

    clock_before = adafruit_debouncer.ticks_ms
    # pressed 1 s, a 60 ms dip, pressed 1 s, gone 1 s: runs in microseconds of wall time.
    trace = _step_trace([(1000, 30000), (60, 0), (1000, 30000), (1000, 0)])
    for run in (run_adafruit(P), run_chumicro(P, polled=True), run_chumicro(P, polled=False)):
        events = run(trace)
        assert [kind for _, kind in events] == ["contact", "lost"]
        assert events[1][0] == 2060 + P.loss_ms  # one window after the loss's first sample
    assert adafruit_debouncer.ticks_ms is clock_before  # the swapped clock is put back
    assert "machine" not in sys.modules


def test_every_peer_is_available_and_named_with_its_parameters():
    found = detectors(P)
    assert [d.note for d in found] == [""] * len(found)
    assert {d.name for d in found} >= {
        "dowel Contact",
        "raw threshold",
        "fixed-count debounce",
        "adafruit Debouncer",
        "chumicro Button, polled",
    }
    assert all(d.params for d in found)


def test_detection_section_prints_the_table(capsys):
    assert main(["--quick", "--only", "detection"]) == 0
    out = capsys.readouterr().out
    assert "1. Detection quality: 60 traces" in out
    ours = next(line for line in out.splitlines() if "dowel Contact (ours)" in line).split()
    assert ours[3].startswith("0/") and ours[4] == "0"  # missed 0/n, false lost 0
    assert "latency within one sample gap of the window: met" in out
    for name in ("raw threshold", "fixed-count debounce", "adafruit Debouncer", "chumicro"):
        assert name in out


@pytest.mark.vboard
def test_python_m_bench_quick_runs_every_section():
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=repo_root(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for head in (
        "1. Detection quality",
        "2. Loop cost on the native MicroPython unix port",
        "3. Footprint",
        "4. Log",
        "5. The firmware on a running virtual board",
    ):
        assert head in out
    assert "could not run" not in out
    assert "heap allocated per step" in out and "heap in use after boot" in out
    assert "boot: power-on to the loop's first tick" in out
    booted = "loop rate, 10 ms tick" in out  # else the firmware never ticked: said, with why
    assert booted or "never" in out, out
    if booted:
        for figure in ("heap free after boot", "log append at a rep end, littlefs (200)"):
            assert figure in out
