"""The service's memory of browsers and clients is bounded: sessions expire and the oldest go first;
failed sign-ins are counted in a sliding window, per key, with a bounded number of keys."""
from grader.serve.sessions import FailureThrottle, Sessions


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_lasts_its_lifetime_then_is_gone():
    clock = Clock()
    sessions = Sessions(capacity=10, lifetime_s=60, clock=clock)
    cookie = sessions.open("learner", "ann")
    assert sessions.of(cookie) == ("learner", "ann")
    assert sessions.of("") == ("", "") and sessions.of("made-up") == ("", "")
    clock.now += 60
    assert sessions.of(cookie) == ("", "") and len(sessions) == 0


def test_the_store_never_holds_more_than_its_capacity_the_oldest_go_first():
    clock = Clock()
    sessions = Sessions(capacity=3, lifetime_s=3600, clock=clock)
    cookies = []
    for number in range(10):
        clock.now += 1
        cookies.append(sessions.open("learner", f"l{number}"))
        assert len(sessions) <= 3
    assert [sessions.of(c)[1] for c in cookies] == ["", "", "", "", "", "", "", "l7", "l8", "l9"]


def test_expired_sessions_are_dropped_when_a_new_one_opens():
    clock = Clock()
    sessions = Sessions(capacity=100, lifetime_s=10, clock=clock)
    for _ in range(50):
        sessions.open("learner", "x")
    clock.now += 11
    sessions.open("instructor")
    assert len(sessions) == 1


def test_failures_past_the_limit_wait_until_the_oldest_leaves_the_window():
    clock = Clock()
    throttle = FailureThrottle(3, 60, clock=clock)
    for second in range(3):
        assert throttle.wait("ann") == 0
        throttle.failed("ann")
        clock.now += 1
    # Failures at 1000, 1001, 1002; now 1003: the first leaves the window at 1060.
    assert throttle.wait("ann") == 57
    assert throttle.wait("ben") == 0          # per key
    clock.now = 1060
    assert throttle.wait("ann") == 0          # one more try ...
    throttle.failed("ann")
    assert throttle.wait("ann") == 1          # ... then the second failure (1001) must leave it


def test_a_success_forgives():
    clock = Clock()
    throttle = FailureThrottle(2, 60, clock=clock)
    throttle.failed("ann")
    throttle.failed("ann")
    throttle.forget("ann")
    assert throttle.wait("ann") == 0 and len(throttle) == 0


def test_the_throttle_remembers_a_bounded_number_of_keys():
    clock = Clock()
    throttle = FailureThrottle(1, 600, capacity=100, clock=clock)
    for number in range(1000):
        throttle.failed(f"guess-{number}@example.org")
        assert len(throttle) <= 100
    assert throttle.wait("guess-999@example.org") > 0 and throttle.wait("guess-0@example.org") == 0
