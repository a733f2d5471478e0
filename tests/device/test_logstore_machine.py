"""A stateful property test of the store: sessions, reps, power cuts in the middle of a write
(the last frame torn at a random byte), reboots, and pulls that delete whole segments, in any
order. After every step, the reps pulled plus the reps still on the flash are exactly the reps
whose writes completed, in order; and session numbers are never reused."""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path

from dowel import loghost, logread, logstore, running
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.fakes.logs import random_rep

DEV = b"\x24\x0a\xc4\x00\x00\x01"


class Store(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dir = Path(tempfile.mkdtemp())
        self.root = str(self.dir / "logs")
        self.log = logstore.Log(root=self.root, segment_bytes=200)
        self.committed: list[tuple] = []  # (session, rep) whose write completed
        self.pulled: list[tuple] = []
        self.session = None
        self.sessions_seen: list[int] = []
        self.seq = 0
        self.t = 0

    def teardown(self):
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _last_segment(self) -> Path:
        return sorted(Path(self.root).glob("*.dwl"))[-1]

    @rule(imu=st.booleans())
    def begin(self, imu):
        n = self.log.begin_session(DEV, "0.1.0", b"\x00" * 8, "P-1", None, 0, imu)
        assert all(n > s for s in self.sessions_seen)
        self.sessions_seen.append(n)
        self.session = n
        self.imu = imu
        self.seq, self.t = 0, 0

    @rule(imu=st.booleans(), cut=st.floats(0, 0.999))
    def power_cut_during_session_header(self, imu, cut):
        self.begin(imu)
        seg = self._last_segment()
        data = seg.read_bytes()
        n = self._last_frame_len(data)
        seg.write_bytes(data[: len(data) - n + int(cut * n)])
        self._reboot()

    @precondition(lambda self: self.session is not None)
    @rule(seed=st.integers(0, 2**32))
    def rep(self, seed):
        rep = random_rep(random.Random(seed), self.seq, self.t, self.imu)
        assert self.log.add_rep(*rep)
        self.committed.append((self.session, rep))
        self.seq += 1
        self.t = rep[1] + rep[2] + seed % 20000

    @precondition(lambda self: self.session is not None)
    @rule(seed=st.integers(0, 2**32), cut=st.floats(0, 0.999))
    def power_cut_during_rep(self, seed, cut):
        """The rep's write starts, power goes before it ends: it must vanish, nothing else."""
        rep = random_rep(random.Random(seed), self.seq, self.t, self.imu)
        assert self.log.add_rep(*rep)
        seg = self._last_segment()
        data = seg.read_bytes()
        n = self._last_frame_len(data)
        keep = len(data) - n + int(cut * n)
        seg.write_bytes(data[:keep])
        self._reboot()

    def _last_frame_len(self, data: bytes) -> int:
        return len(data) - logread.decode(data[:-1], reps=False).good_bytes

    @rule()
    def reboot(self):
        """Power off between writes (the usual way a session ends)."""
        self._reboot()

    def _reboot(self):
        # No close(): power cuts do not close files. The old Log is simply gone.
        running.log = None
        self.log = logstore.Log(root=self.root, segment_bytes=200)
        self.session = None

    @rule(upto=st.integers(0, 50))
    def pull(self, upto):
        """The host pulls some segments (oldest first), imports them, deletes them."""
        self.log.close()
        listed = loghost.segments(self.root)[:upto]
        for name, _size, sha, _unfinished in listed:
            data = (Path(self.root) / name).read_bytes()
            d = logread.decode(data)
            assert d.error is None or d.torn
            self.pulled += [(r.session.number, r.fields()) for r in d.reps]
            assert loghost.delete([(name, sha)], self.root)["deleted"] == [name]
        self._reboot()

    @invariant()
    def nothing_lost_nothing_invented(self):
        on_flash = []
        for path in sorted(Path(self.root).glob("*.dwl")):
            d = logread.decode(path.read_bytes())
            assert d.error is None or d.torn, d.error
            on_flash += [(r.session.number, r.fields()) for r in d.reps]
        assert self.pulled + on_flash == self.committed


Store.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestStore = Store.TestCase
