"""The Ray executor: the pipeline's tasks as Ray tasks (owd.core.step.Executor).

Used as a context manager: it opens one connection (:func:`owd.ray_cluster.connect`: a
private local instance, or the cluster at ``address``) for all the phases of a command
and closes it at the end. Each task asks for one CPU; Ray keeps its worker processes
between tasks, so a worker builds its steps (loads its models) once, as a local pool
process does. Tasks get paths and small values and return counts: data moves through
the campaign folder, which on several nodes must be a shared filesystem.
"""

from __future__ import annotations

from contextlib import ExitStack
from types import TracebackType
from typing import Any, Callable, Iterator, Sequence, TypeVar

from owd.executors import quiet_libraries
from owd.ray_cluster import cluster_cpus, connect

__all__ = ["RayExecutor"]

T = TypeVar("T")
R = TypeVar("R")


def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    quiet_libraries()  # a Ray worker process starts with default logger levels
    return fn(item)


class RayExecutor:
    """Tasks on Ray. ``address``: join that cluster; None starts a local instance (or uses
    the one this process is already connected to)."""

    def __init__(self, address: str | None = None) -> None:
        self.address = address
        self.workers = 0
        self._stack = ExitStack()
        self._ray: Any = None

    def __enter__(self) -> "RayExecutor":
        self._ray = self._stack.enter_context(connect(self.address))
        self.workers = cluster_cpus()
        self._call = self._ray.remote(num_cpus=1)(_call)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stack.close()
        self._ray = None

    def close(self) -> None:
        self._stack.close()

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """``(index, fn(items[index]))`` as each finishes; a task's exception is raised here."""
        if self._ray is None:
            raise RuntimeError("RayExecutor is used inside `with RayExecutor(...) as executor:`")
        ray = self._ray
        refs = {self._call.remote(fn, item): i for i, item in enumerate(items)}
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                yield refs[done[0]], ray.get(done[0])
        finally:
            for ref in pending:  # an error or an interrupt: drop the rest of this map's tasks
                ray.cancel(ref)
