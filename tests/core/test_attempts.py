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


# --------------------------------------------------------------------------- who the client is

from superintendent_core.attempts import POOL_KEY, SESSION_PREFIX, client_key, parse_networks  # noqa: E402

LOCAL = parse_networks(["127.0.0.1", "::1"])


def test_a_wrong_shared_passcode_slows_only_the_client_that_typed_it():
    clock = Clock()
    limiter = AttemptLimiter(free=2, clock=clock)
    for _ in range(10):
        attempt = limiter.attempt("ip:203.0.113.1", lambda: None)
    assert not attempt.ok and limiter.retry_after("ip:203.0.113.1") > 0
    other = limiter.attempt("ip:203.0.113.2", lambda: "admin")
    assert other.ok and other.wait == 0.0


def test_sessions_of_unknown_address_have_their_own_count_and_a_shared_ceiling_that_only_slows():
    clock = Clock()
    limiter = AttemptLimiter(free=2, pool_free=5, pool_max_delay=3.0, clock=clock)
    for i in range(5):  # five sessions, one failure each: within the pool's ceiling
        assert limiter.attempt(f"{SESSION_PREFIX}{i}", lambda: None).wait == 0.0
    assert limiter.retry_after(f"{SESSION_PREFIX}new") == 0.0
    assert limiter.attempt(f"{SESSION_PREFIX}5", lambda: None).wait == 1.0  # over the ceiling: a short wait
    for _ in range(20):
        clock.now += 10
        limiter.attempt(f"{SESSION_PREFIX}x", lambda: None)
    assert limiter.retry_after(f"{SESSION_PREFIX}new") <= 3.0  # never more than pool_max_delay
    assert limiter.retry_after("ip:198.51.100.1") == 0.0  # known clients are not in the pool
    clock.now += 3.0
    assert limiter.attempt(f"{SESSION_PREFIX}new", lambda: "labeller").ok
    assert POOL_KEY.startswith("pool:")


def test_the_peer_is_the_key_and_a_forwarded_header_does_not_choose_it():
    assert client_key("198.51.100.7", [], session_id="s") == "ip:198.51.100.7"
    # A client sending its own X-Forwarded-For: ignored (the peer is no trusted proxy).
    assert client_key("198.51.100.7", ["203.0.113.9"], session_id="s") == "ip:198.51.100.7"
    assert client_key("198.51.100.7", ["203.0.113.9"], session_id="s", trusted_proxies=LOCAL) == "ip:198.51.100.7"


def test_a_forwarded_address_counts_only_from_a_trusted_proxy():
    proxies = parse_networks(["10.0.0.0/8"])
    # nginx at 10.0.0.5 appended the real client (right-most); the left-most is what the client claimed.
    hops = ["1.1.1.1, 198.51.100.7"]
    assert client_key("10.0.0.5", hops, session_id="s", trusted_proxies=proxies) == "ip:198.51.100.7"
    assert client_key("10.0.0.5", ["1.1.1.1, 198.51.100.7, 10.0.0.9"], session_id="s",
                      trusted_proxies=proxies) == "ip:198.51.100.7"  # the right-most not itself a proxy
    # The same proxy, not named in the secrets: its clients are not lumped into one key.
    assert client_key("10.0.0.5", hops, session_id="s") == f"{SESSION_PREFIX}s"
    # A trusted proxy that forwards garbage: the session, never the garbage.
    assert client_key("10.0.0.5", ["not-an-ip"], session_id="s", trusted_proxies=proxies) == f"{SESSION_PREFIX}s"


def test_streamlits_own_rewrite_from_loopback_counts_only_when_loopback_is_trusted():
    # uvicorn (Streamlit's server) already replaced the loopback peer by the right-most hop.
    assert client_key("203.0.113.9", ["203.0.113.9"], session_id="s") == f"{SESSION_PREFIX}s"
    assert client_key("203.0.113.9", ["203.0.113.9"], session_id="s", trusted_proxies=LOCAL) == "ip:203.0.113.9"
    # With $FORWARDED_ALLOW_IPS empty the server rewrites nothing: the peer is the peer.
    assert client_key("203.0.113.9", ["203.0.113.9"], session_id="s", server_trusts=()) == "ip:203.0.113.9"


@pytest.mark.parametrize("peer", [None, "", "127.0.0.1", "::1", "garbage", 42])
def test_without_a_known_address_each_session_is_its_own_client(peer):
    assert client_key(peer, [], session_id="a") == f"{SESSION_PREFIX}a"
    assert client_key(peer, [], session_id="b") == f"{SESSION_PREFIX}b"
    assert client_key(peer, ["198.51.100.7"], session_id="a") == f"{SESSION_PREFIX}a"


@pytest.mark.parametrize("bad", ["127.0.0.1", ["localhost"], ["10.0.0.0/33"], [5], {"a": 1}])
def test_trusted_proxies_must_be_a_list_of_addresses_or_networks(bad):
    with pytest.raises(ValueError, match="trusted_proxies"):
        parse_networks(bad)
