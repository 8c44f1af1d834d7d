"""A wall-clock limit for one document's extraction.

trafilatura (and lxml under it) has no timeout of its own. In the main thread of
a Unix process :func:`time_limit` arms ``ITIMER_REAL``; the ``SIGALRM`` handler
raises :class:`ExtractionTimeout` in the middle of whatever Python code runs. It
derives from ``BaseException`` (as resiliparse's ``ExecutionTimeout`` does) so
the broad ``except Exception`` blocks inside trafilatura and htmldate cannot
swallow it. A signal is only handled between Python bytecodes, so a single long
C call (one lxml XPath over a huge tree) finishes first: the extractor's size and
element caps bound those.

Elsewhere (a worker thread, Windows) there is no timer: :func:`time_limit` yields
False and the caller relies on those caps alone. Ray runs plain tasks in the
worker process's main thread, so the timer is armed there.

An outer ``ITIMER_REAL`` (someone else's alarm) is saved and re-armed with its
remaining time afterwards.

Once the limit is reached the timer fires again every :data:`REFIRE_S` until the body has
stopped: a signal that lands in a finalizer (``__del__``, e.g. one of the ``regex``
module's during dateparser's first compile) raises there, and Python only prints such an
exception ("Exception ignored in ...") and carries on; the next one lands elsewhere.
Measured in CI before this: a 0.5 s limit swallowed that way let a page run 8 s.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["ExtractionTimeout", "time_limit", "timer_available", "REFIRE_S"]

# After the limit, the alarm repeats this often until the body has stopped (module docstring).
REFIRE_S = 0.05


class ExtractionTimeout(BaseException):
    """The document took longer than its time limit."""


def timer_available() -> bool:
    """True where :func:`time_limit` can interrupt work (main thread, SIGALRM exists)."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_limit(seconds: float) -> Iterator[bool]:
    """Raise :class:`ExtractionTimeout` in the body after ``seconds``. Yields
    whether the limit is enforced (see the module docstring)."""
    if seconds <= 0 or not timer_available():
        yield False
        return
    armed = True

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        if armed:  # a late signal after the body finished is ignored
            raise ExtractionTimeout(f"over {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds, REFIRE_S)
    started = time.monotonic()
    try:
        yield True
    finally:
        armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay > 0:
            remaining = max(outer_delay - (time.monotonic() - started), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, remaining, outer_interval)
