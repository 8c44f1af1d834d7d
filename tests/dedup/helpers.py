"""Shared builders for the dedup tests: documents and a full pipeline run."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Iterable, Mapping

from owd.dedup import BucketStep, ClusterStep, MinhashConfig, SignatureStep
from owd.dedup.steps import ClusterMethod, KeepPolicy
from owd.core.schema import Document

_RNG = random.Random(7)
# Letters only: digits normalise to "0", which would make all words alike.
VOCAB = sorted({"".join(_RNG.choice("abcdefghijklmnopqrstuvwxyzäöüéèàç") for _ in range(_RNG.randint(3, 9)))
                for _ in range(20_000)})


def words(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    return [rnd.choice(VOCAB) for _ in range(n)]


def text(n: int, seed: int) -> str:
    return " ".join(words(n, seed))


def edit(text_: str, rate: float, seed: int) -> str:
    """Replace about ``rate`` of the words with random ones."""
    rnd = random.Random(seed)
    return " ".join(rnd.choice(VOCAB) if rnd.random() < rate else w for w in text_.split())


def doc(id_: str, text_: str | None, lang: str | None = "en", **kw: object) -> Document:
    return Document(id=id_, url=f"https://example.eu/{id_}", host="example.eu", campaign="test",
                    text=text_, lang=lang, **kw)  # type: ignore[arg-type]


def at(hour: int) -> dt.datetime:
    return dt.datetime(2026, 1, 1, hour, tzinfo=dt.timezone.utc)


def run_all(dedup_dir: Path, shards: Mapping[str, Iterable[Document]], *, keep: KeepPolicy = "first",
            num_partitions: int = 4, config: MinhashConfig = MinhashConfig(),
            method: ClusterMethod = "representative", verify_batch: int = 1 << 17) -> Path:
    """SignatureStep over ``shards`` (in the mapping's order), then BucketStep and ClusterStep."""
    sig = SignatureStep(dedup_dir, config)
    for shard_id, docs in shards.items():
        sig.run(shard_id, docs)
    BucketStep(dedup_dir, num_partitions=num_partitions).run()
    return ClusterStep(dedup_dir, keep=keep, method=method, verify_batch=verify_batch).run()
