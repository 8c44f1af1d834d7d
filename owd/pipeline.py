"""The pipeline of ``owd process``, written once: which steps, in which order.

``DOCUMENT_STEPS`` run over every shard (owd.core.step.DocumentStep); ``CAMPAIGN_STEPS``
(owd/campaign_steps.py) then over the whole campaign (owd.core.step.CampaignStep). An executor
(owd/executors.py: in this process, a pool of local processes, or Ray) runs the work;
nothing here knows which. A new stage is a new step class and one line in a list.

Per shard, :func:`process_shard` writes ``docs/<shard>.stats.json`` (every step's
counters, the ones the steps declare included when zero) and then ``docs/<shard>.parquet``,
renamed into place last and stamped with what the shard was made from
(:func:`shard_made_from`): a rerun skips the shard while that stamp matches.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from owd.campaign_steps import CAMPAIGN_STEPS
from owd.core.config import CampaignConfig
from owd.core.done import fingerprint
from owd.core.files import replace_text
from owd.core.schema import SCHEMA_VERSION, Document, DocumentWriter
from owd.core.step import DocumentStep, Shard
from owd.dedup.step import SignatureShardStep
from owd.extract.media_step import MediaStep
from owd.extract.steps import ExtractStep, PiiStep, QualityStep
from owd.langid.step import LanguageStep

__all__ = ["DOCUMENT_STEPS", "CAMPAIGN_STEPS", "ShardTask", "ShardResult", "process_shard", "declared_counters",
           "shard_made_from"]

DocumentStepType = type[DocumentStep]

DOCUMENT_STEPS: tuple[DocumentStepType, ...] = (
    ExtractStep,  # WARC -> documents (the reader)
    LanguageStep,
    QualityStep,
    PiiStep,
    SignatureShardStep,
    MediaStep,  # last: a media row names its page's language and drop reason
)


def shard_made_from(cfg: CampaignConfig, warc: Path, steps: Sequence[DocumentStepType]) -> str:
    """What a docs shard is made from (owd.core.done): the WARC file (a closed WARC file
    never changes, so its name and size identify it), the schema version, the campaign,
    the steps and the processing settings. Changing any of them redoes the shard."""
    return fingerprint("docs shard", SCHEMA_VERSION, warc.name, warc.stat().st_size, cfg.campaign,
                       _names(steps), cfg.process)


def _names(steps: Sequence[DocumentStepType]) -> list[str]:
    return [f"{step.__module__}.{step.__qualname__}" for step in steps]


def declared_counters(steps: Sequence[DocumentStepType]) -> list[str]:
    """Every counter the steps report for each shard, zero or not."""
    return [name for step in steps for name in step.counters]


@dataclass(frozen=True)
class ShardTask:
    """What a worker needs to process one shard (pickled to the worker)."""

    cfg: CampaignConfig
    shard: Shard
    docs_dir: Path
    steps: tuple[DocumentStepType, ...] = DOCUMENT_STEPS


@dataclass(frozen=True)
class ShardResult:
    shard_id: str
    documents: int
    stats: Counter[str]
    seconds: float


# The steps of this worker process, built on its first shard and kept for the next ones
# (a fastText model loads once per worker). Keyed by what they were built from.
_built: tuple[str, list[DocumentStep]] | None = None


def _steps_for(task: ShardTask) -> list[DocumentStep]:
    global _built
    key = repr((task.cfg, _names(task.steps)))
    if _built is None or _built[0] != key:
        _built = (key, [step.from_config(task.cfg) for step in task.steps])
    return _built[1]


def process_shard(task: ShardTask) -> ShardResult:
    """Run every document step over one shard and write its Parquet and stats files."""
    started = time.time()
    stats: Counter[str] = Counter({name: 0 for name in declared_counters(task.steps)})
    stream: Iterator[Document] = iter(())
    for step in _steps_for(task):
        stream = step.run(stream, task.shard, stats)
    # Documents go to disk in row groups as the steps hand them on: a worker holds a row
    # group, never the shard (memory does not grow with the WARC).
    with DocumentWriter(task.docs_dir / f"{task.shard.id}.parquet", task.shard.made_from) as out:
        for doc in stream:
            out.write(doc)
        out.close()
        # The counts first, the documents last: a kill between the two leaves an unstamped
        # shard (still under its temporary name), which a rerun redoes, never a finished
        # shard without its counts.
        replace_text(task.docs_dir / f"{task.shard.id}.stats.json", json.dumps(dict(sorted(stats.items())), indent=1))
    return ShardResult(task.shard.id, out.rows, stats, time.time() - started)
