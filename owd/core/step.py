"""The step contract: what every stage of ``owd process`` implements, and what runs it.

Two kinds of step, as in datatrove (one ``run`` per step, executors that only hand out
work) but with owd's unit of work, the *shard* (one WARC file -> one ``docs/`` Parquet
file):

* A :class:`DocumentStep` works on the documents of one shard: extract, language ID,
  quality, PII, MinHash signature, and the media and embedding stages to come. It is
  built once per worker process by :meth:`DocumentStep.from_config` (so a model loads
  once per worker, not per shard) and then runs shard after shard, in whichever worker
  the executor chooses. ``run`` takes the documents of the steps before it (nothing,
  for the first step, which reads the shard's WARC file) and yields them on.
* A :class:`CampaignStep` works on the whole campaign once every shard is done: band
  buckets, clusters, fetch dates, applying clusters, pools, the index. It splits its work
  into tasks and hands them to the :class:`Executor` it is given, so the same step runs
  in one process, on all cores or on a Ray cluster.

The rules every step keeps:

* **Documents are changed in place** and yielded on; a step never copies a document
  (copies cost memory per shard and hide which stage set a field). A step never removes
  a document either: it sets ``drop_reason``, and pools decide later.
* **Counts go into the ``stats`` counter the step is given**, named ``<stage>/<what>``
  (``langid/no_lang/no_letters``). Every skip and drop is counted with its reason. The
  counters a step reports for every shard, zero or not, are listed in ``counters``: the
  executor writes them into the shard's ``.stats.json`` even when nothing happened, so a
  counter that goes missing is a bug a test can see (tests/test_step_contract.py).
* **Output depends on the shard only**, never on the worker, the worker count or the
  order shards run in: the executors' outputs are compared byte for byte.
* A step meets bad data by counting it; it raises only for a broken setup (a missing
  model, an unwritable folder), as an :class:`~owd.core.errors.OwdError` where the user
  can act on it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, ClassVar, Iterable, Iterator, Protocol, Sequence, TypeVar

from owd.core.schema import Document

if TYPE_CHECKING:
    from typing import Self

    from owd.core.config import CampaignConfig

__all__ = ["Shard", "DocumentStep", "MapStep", "CampaignStep", "Executor"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Shard:
    """One unit of work: a WARC file and the docs shard it becomes."""

    id: str  # the docs shard name: docs/<id>.parquet
    warc: Path
    campaign: str
    campaign_dir: Path
    # the fingerprint of what the shard's documents are made from (the WARC file, the
    # steps, the settings; owd.core.done): recorded in its outputs, which a rerun skips
    # only when it still matches
    made_from: str = ""

    @property
    def worker(self) -> str:
        """The crawler worker that wrote the WARC file (its folder's name)."""
        return self.warc.parent.name

    @property
    def source(self) -> str | None:
        """The ingest source the shard's file came from (``<campaign>/ingest/<source>/``,
        owd/ingest.py), or None for a WARC file of owd's own crawl."""
        folder = self.warc.parent
        if folder.parent.name == "ingest" and folder.parent.parent == self.campaign_dir:
            return folder.name
        return None


class DocumentStep(ABC):
    """A stage that works on one shard's documents (see the module docstring for the rules)."""

    name: ClassVar[str]  # the stats prefix, e.g. "langid"
    counters: ClassVar[tuple[str, ...]] = ()  # reported for every shard, zero or not

    @classmethod
    def from_config(cls, cfg: "CampaignConfig") -> "Self":
        """Build the step for a campaign: once per worker process, before its first shard."""
        return cls()

    @abstractmethod
    def run(self, docs: Iterable[Document], shard: Shard, stats: Counter[str]) -> Iterator[Document]:
        """Yield the shard's documents after this step: ``docs`` changed in place (a reader,
        the first step, ignores ``docs`` and yields what it reads from ``shard.warc``)."""


class MapStep(DocumentStep):
    """A step that looks at one document at a time: implement :meth:`apply`."""

    def run(self, docs: Iterable[Document], shard: Shard, stats: Counter[str]) -> Iterator[Document]:
        for doc in docs:
            self.apply(doc, stats)
            yield doc

    @abstractmethod
    def apply(self, doc: Document, stats: Counter[str]) -> None:
        """Change ``doc`` in place; count into ``stats``."""


class Executor(Protocol):
    """Runs independent tasks; the local and the Ray executor in owd/executors.py implement it.

    ``fn`` and the items must pickle (module-level functions, plain data): they may run
    in another process or on another node.
    """

    workers: int

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """``(index, fn(items[index]))`` for every item, as each finishes."""
        ...

    def close(self) -> None:
        """Stop the executor's workers (an executor may be used again after: it restarts them)."""
        ...


class CampaignStep(ABC):
    """A step over the whole campaign, after every shard is done (band buckets, clusters, ...).

    ``run`` reads and writes the campaign folder, splits its work into tasks for the
    executor, and returns its counters (``<stage>/<what>``), which go into the report.
    """

    name: ClassVar[str]

    @abstractmethod
    def run(self, cfg: "CampaignConfig", shards: Sequence[Shard], executor: Executor) -> Counter[str]:
        """Do the step for ``shards`` (every shard of the campaign, in a stable order).

        A step whose work is not worth splitting (pools: bound by reading Parquet) may run
        it here, where the driver runs; the executor is then unused."""
