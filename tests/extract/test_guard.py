"""The wall-clock guard around one document's extraction."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from owd.extract.guard import ExtractionTimeout, time_limit, timer_available


def spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_limit_interrupts_python_work() -> None:
    t0 = time.monotonic()
    with pytest.raises(ExtractionTimeout):
        with time_limit(0.2) as enforced:
            assert enforced
            spin(5)
    assert time.monotonic() - t0 < 1.5


def test_broad_except_inside_cannot_swallow_it() -> None:
    with pytest.raises(ExtractionTimeout):
        with time_limit(0.1):
            try:
                spin(3)
            except Exception:  # what trafilatura and htmldate do internally
                pass


class _SlowFinalizer:
    """An object whose __del__ spins: the alarm lands inside it, where Python only prints the
    exception ("Exception ignored in ...") and goes on. A real finalizer, not a fake: the CI
    run of 2026-12-06 lost a 0.5 s limit in the regex module's SetBase.__del__ this way."""

    def __del__(self) -> None:
        spin(0.3)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_timeout_swallowed_by_a_finalizer_fires_again() -> None:
    t0 = time.monotonic()
    with pytest.raises(ExtractionTimeout):
        with time_limit(0.1):
            _SlowFinalizer()  # collected at once: its __del__ runs across the limit
            spin(3)
    assert time.monotonic() - t0 < 1.5


def test_fast_work_is_untouched_and_the_previous_timer_restored() -> None:
    # (pytest-timeout may have its own SIGALRM timer armed around this test)
    handler, (outer, _) = signal.getsignal(signal.SIGALRM), signal.getitimer(signal.ITIMER_REAL)
    with time_limit(2) as enforced:
        spin(0.01)
    assert enforced
    assert signal.getsignal(signal.SIGALRM) is handler
    remaining = signal.getitimer(signal.ITIMER_REAL)[0]
    assert remaining == 0.0 if outer == 0.0 else 0 < remaining <= outer


def test_an_outer_alarm_survives() -> None:
    fired: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append(1))
    saved = signal.getitimer(signal.ITIMER_REAL)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with time_limit(2):
            spin(0.05)
        remaining = signal.getitimer(signal.ITIMER_REAL)[0]
        assert 0.2 < remaining <= 0.5
        spin(0.7)
        assert fired == [1]
    finally:
        signal.signal(signal.SIGALRM, previous)
        signal.setitimer(signal.ITIMER_REAL, max(saved[0] - 1.0, 0.0) if saved[0] else 0.0, saved[1])


def test_no_timer_outside_the_main_thread() -> None:
    seen: list[bool] = []

    def work() -> None:
        seen.append(timer_available())
        with time_limit(0.05) as enforced:
            seen.append(enforced)
            spin(0.1)  # not interrupted: the caller's size caps are the guard here

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [False, False]
    assert timer_available()


def test_zero_disables() -> None:
    with time_limit(0) as enforced:
        assert not enforced
