"""AttemptLimiter: free attempts, doubling waits, forgetting, per client, thread safety, memory bound."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from superintendent_core.attempts import AttemptLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_free_attempts_then_doubling_waits_up_to_the_cap():
    clock = Clock()
    limiter = AttemptLimiter(free=3, base_delay=2.0, max_delay=10.0, clock=clock)
    assert [limiter.failed("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.retry_after("a") == 0.0
    assert limiter.failed("a") == 2.0
    assert limiter.retry_after("a") == 2.0
    clock.now += 2.0
    assert limiter.retry_after("a") == 0.0
    assert [limiter.failed("a") for _ in range(3)] == [4.0, 8.0, 10.0]  # capped


def test_a_success_or_a_quiet_window_forgets_the_failures():
    clock = Clock()
    limiter = AttemptLimiter(free=1, base_delay=1.0, window=60.0, clock=clock)
    limiter.failed("a")
    assert limiter.failed("a") == 1.0
    limiter.succeeded("a")
    assert limiter.retry_after("a") == 0.0 and limiter.failed("a") == 0.0
    assert limiter.failed("a") == 1.0
    clock.now += 60.0
    assert limiter.failed("a") == 0.0  # the count started again


def test_clients_are_counted_apart():
    limiter = AttemptLimiter(free=0, base_delay=5.0, clock=Clock())
    assert limiter.failed("10.0.0.1") == 5.0
    assert limiter.retry_after("10.0.0.1") == 5.0
    assert limiter.retry_after("10.0.0.2") == 0.0


def test_memory_is_bounded_and_the_stalest_client_goes_first():
    clock = Clock()
    limiter = AttemptLimiter(free=0, max_clients=3, clock=clock)
    for name in "abcd":
        limiter.failed(name)
        clock.now += 0.1
    assert len(limiter._records) == 3
    assert limiter.retry_after("a") == 0.0 and limiter.retry_after("d") > 0


def test_concurrent_failures_are_all_counted():
    limiter = AttemptLimiter(free=400, base_delay=1.0, clock=Clock())
    barrier = threading.Barrier(8)

    def hammer():
        barrier.wait()
        for _ in range(50):
            limiter.failed("x")

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert limiter._records["x"].failures == 400
    assert limiter.failed("x") == 1.0  # the 401st failure is the first one that waits


@given(st.lists(st.sampled_from(["fail", "ok", "tick"]), max_size=60))
def test_the_wait_never_exceeds_the_cap_and_free_attempts_never_wait(steps):
    clock = Clock()
    limiter = AttemptLimiter(free=2, base_delay=1.5, max_delay=20.0, window=30.0, clock=clock)
    streak = 0
    for step in steps:
        if step == "fail":
            streak += 1
            wait = limiter.failed("c")
            assert 0.0 <= wait <= 20.0
            if streak <= 2:
                assert wait == 0.0
        elif step == "ok":
            limiter.succeeded("c")
            streak = 0
        else:
            clock.now += 31.0  # longer than the window and the cap: forgotten
            streak = 0
        assert 0.0 <= limiter.retry_after("c") <= 20.0


@pytest.mark.parametrize("kwargs", [{"free": -1}, {"base_delay": 0}, {"max_delay": 1, "base_delay": 2}, {"window": 0}])
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        AttemptLimiter(**kwargs)


def test_describe():
    assert AttemptLimiter.describe(1.2) == "2 s"
    assert AttemptLimiter.describe(300) == "5 min"


def test_attempt_runs_the_check_only_when_the_client_may_try():
    clock = Clock()
    limiter = AttemptLimiter(free=1, base_delay=4.0, clock=clock)
    calls = []

    def wrong():
        calls.append("wrong")
        return None

    first = limiter.attempt("a", wrong)
    assert (first.ok, first.checked, first.wait) == (False, True, 0.0)
    second = limiter.attempt("a", wrong)
    assert (second.ok, second.checked, second.wait) == (False, True, 4.0)
    waiting = limiter.attempt("a", lambda: calls.append("right") or "admin")
    assert (waiting.ok, waiting.checked, waiting.wait) == (False, False, 4.0)
    assert calls == ["wrong", "wrong"]  # the right answer was not even compared
    clock.now += 4.0
    right = limiter.attempt("a", lambda: "admin")
    assert (right.result, right.checked, right.wait) == ("admin", True, 0.0)
    assert limiter.retry_after("a") == 0.0 and limiter.failed("a") == 0.0  # the success forgot the failures
