"""Executors: who runs the pipeline's tasks. The pipeline (owd/pipeline.py) never knows which.

* :class:`LocalExecutor`: this machine. ``workers=1`` runs every task in this process
  (no pickling, one model load); more workers run them in a pool of processes started
  with ``spawn`` (a forked copy of a process holding RocksDB, Arrow or Ray threads is
  not safe). The pool lives as long as the executor, so a worker builds its steps (and
  loads its models) once and keeps them for every shard it gets.
* :class:`RayExecutor` (owd/ray_executor.py): a Ray cluster, or a private local Ray.

Both implement :class:`owd.core.step.Executor`: ``map_unordered(fn, items)`` yields
``(index, result)`` as tasks finish. Outputs never depend on the executor: each task
writes files named by its input, and results are combined by the caller in input order
or by sums.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from types import TracebackType
from typing import Callable, Iterator, Sequence, TypeVar

__all__ = ["LocalExecutor", "available_cpus", "quiet_libraries"]

T = TypeVar("T")
R = TypeVar("R")


def available_cpus() -> int:
    """CPUs this process may run on (the affinity mask, which a container or taskset
    narrows; ``os.cpu_count`` would count the whole machine)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this worker when the process that started it dies.

    A SIGKILLed ``owd process`` cannot stop its pool, and an orphaned worker would go on
    writing shards beside the run that resumes the campaign (and hold the parent's
    stdout open). Elsewhere the call does not exist and an orphan stops at its next task.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: no prctl
        return
    if os.getppid() != parent:  # the parent died before the call: nobody would send the signal
        os._exit(1)


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _init_worker(parent: int, threads: int) -> None:
    _die_with_parent(parent)
    # Each worker gets its share of the CPUs for the thread pools of the libraries it loads
    # (Arrow and OpenMP read OMP_NUM_THREADS when first imported, which is after this):
    # N workers each starting one thread per CPU would oversubscribe the machine. Ray does
    # the same for its one-CPU tasks. A value the user set is kept.
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    arrow = sys.modules.get("pyarrow")  # already imported by the parent's main module
    value = os.environ["OMP_NUM_THREADS"]
    if arrow is not None and value.isdigit() and int(value) > 0:  # OpenMP also allows lists ("4,2")
        arrow.set_cpu_count(int(value))
    quiet_libraries()


def quiet_libraries() -> None:
    """Logger levels every process running steps needs (worker processes start with defaults)."""
    # trafilatura logs every unusable page at ERROR; the extract stage already counts
    # each one with its reason, so the log line is noise in a pipeline run.
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)


class LocalExecutor:
    """Tasks on this machine: in this process (``workers=1``) or in a pool of processes."""

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers or available_cpus()
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """``(index, fn(items[index]))`` as each finishes; a task's exception is raised here."""
        if self.workers == 1 or (len(items) <= 1 and self._pool is None):
            # one task and no pool yet: starting a process would only cost time
            for i, item in enumerate(items):
                yield i, fn(item)
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_init_worker,
                                             initargs=(os.getpid(), max(1, available_cpus() // self.workers)))
        futures: dict[Future[R], int] = {self._pool.submit(fn, item): i for i, item in enumerate(items)}
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=futures.__getitem__):
                    yield futures[future], future.result()
        finally:
            for future in pending:  # an error or an interrupt: start no more of this map's tasks
                future.cancel()
