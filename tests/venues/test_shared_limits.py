"""Rate limits shared across processes: two bots on one account never exceed its limit together."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from mixbot.venues.shared_limits import SharedWindowLimiter, account_key


class FakeClock:
    """A clock the test advances; ``sleep`` moves it forward."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_two_limiters_on_one_account_share_the_window(tmp_path: Path) -> None:
    clock = FakeClock()
    a = SharedWindowLimiter(((3, 1.0),), tmp_path, "acct-orders", clock=clock, sleep=clock.sleep)
    b = SharedWindowLimiter(((3, 1.0),), tmp_path, "acct-orders", clock=clock, sleep=clock.sleep)
    assert a.try_acquire() == 0.0
    assert b.try_acquire() == 0.0
    assert a.try_acquire() == 0.0
    # the account has used its 3 calls in this second: b must wait although b itself made one
    assert b.try_acquire() == pytest.approx(1.0)
    assert a.available() == 0
    clock.now += 0.5
    assert b.try_acquire() == pytest.approx(0.5)
    clock.now += 0.5
    assert b.try_acquire() == 0.0
    assert b.last_acquired_at == 1001.0


def test_other_accounts_do_not_share(tmp_path: Path) -> None:
    clock = FakeClock()
    a = SharedWindowLimiter(((1, 1.0),), tmp_path, account_key("upstox", "t1"), clock=clock)
    b = SharedWindowLimiter(((1, 1.0),), tmp_path, account_key("upstox", "t2"), clock=clock)
    assert a.try_acquire() == 0.0
    assert b.try_acquire() == 0.0
    assert a.try_acquire() > 0


def test_every_window_applies(tmp_path: Path) -> None:
    clock = FakeClock()
    lim = SharedWindowLimiter(
        ((2, 1.0), (3, 60.0)), tmp_path, "acct", clock=clock, sleep=clock.sleep
    )
    waited = [lim.acquire() for _ in range(4)]
    assert waited[:2] == [0.0, 0.0]
    assert waited[2] == pytest.approx(1.0)  # the 1-second window
    assert waited[3] == pytest.approx(59.0)  # the 60-second window: 3 calls since t=1000
    assert clock.now == pytest.approx(1060.0)


def test_the_account_name_hides_the_token() -> None:
    key = account_key("upstox", "eyJ-secret-token")
    assert "secret" not in key and len(key) == 16
    assert key == account_key("upstox", "eyJ-secret-token")


def test_a_torn_log_tail_is_ignored(tmp_path: Path) -> None:
    clock = FakeClock()
    lim = SharedWindowLimiter(((2, 1.0),), tmp_path, "acct", clock=clock)
    assert lim.try_acquire() == 0.0
    with open(lim.path, "ab") as fh:
        fh.write(b"\x01\x02\x03")  # a partial record
    assert lim.available() == 1
    assert lim.try_acquire() == 0.0
    assert lim.try_acquire() > 0


def _burst(directory: str, calls: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    lim = SharedWindowLimiter(((5, 0.2),), directory, "acct-orders")
    stamps = []
    for _ in range(calls):
        lim.acquire()
        stamps.append(lim.last_acquired_at)
    out.put(stamps)


def test_two_processes_never_exceed_the_limit_together(tmp_path: Path) -> None:
    """Real processes, real clock: the invariant (never more than 5 grants in any 0.2 s)
    holds however slow or loaded the machine is; only the run time depends on speed."""
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_burst, args=(str(tmp_path), 12, out)) for _ in range(2)]
    for p in procs:
        p.start()
    stamps = sorted(out.get(timeout=120) + out.get(timeout=120))
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert len(stamps) == 24
    for i in range(len(stamps) - 5):
        # the 6th grant after any grant comes a full window later
        assert stamps[i + 5] - stamps[i] >= 0.2 - 1e-9
