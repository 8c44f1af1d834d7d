"""The datatrove side of bench/bench_process.py. Runs in its own venv (bench/.venv-datatrove,
made by bench_process.py), never in the project's.

Two modes, each printing one JSON object on stdout (and writing it to ``--out``):

``pipeline``: ``WarcReader -> Trafilatura -> LanguageFilter -> MinhashDedupSignature`` on one
WARC with a ``LocalPipelineExecutor`` (1 task, 1 worker), timed from ``executor.run()`` to its
return. CPU is this process plus its reaped children: datatrove's extractor runs trafilatura in
a forked sandbox process (``ExtractorSandbox``), which the executor joins at the end of the step.
With ``--dump`` a pass-through step after the language filter records url, text and language of
every document that reaches the signature step (one list append per document).

``signature``: ``MinhashDedupSignature`` alone (signature files written and sorted, as in the
pipeline) over the texts of a JSONL file, timed around ``step.run()``.

Heavy modules (trafilatura, fasttext, spaCy, warcio) are imported before the clock starts, as the
project's side imports its own before its clock; the fastText model and the spaCy tokenizer are
loaded inside the timed run (datatrove loads them lazily), the project's model too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {}
    for dist in ("datatrove", "trafilatura", "htmldate", "lxml", "fasttext-numpy2-wheel", "xxhash", "spacy",
                 "warcio", "numpy"):
        try:
            out[dist] = version(dist)
        except Exception:  # noqa: BLE001 -- report what is there
            out[dist] = "-"
    out["python"] = sys.version.split()[0]
    return out


def _use_local_model(model: str) -> None:
    """Point datatrove's FT176LID at a local lid.176 file instead of its download URL.

    datatrove copies ``MODEL_URL`` with fsspec into its asset cache (under ``HF_HOME``, which
    bench_process.py points into bench/results/), so a ``file://`` URL needs no network.
    """
    from datatrove.utils.lid import FT176LID

    FT176LID.MODEL_URL = "file://" + os.path.abspath(model)


def _hash_config(precision: int):
    from datatrove.utils.hashing import HashConfig

    return HashConfig(precision=precision, hash_fc="xxhash")


def _tokenizer(name: str):
    """``spacy``: datatrove's default for English (``Languages.english`` -> spaCy ``blank("en")``);
    ``whitespace``: its WhitespaceTokenizer (which is spaCy ``blank("xx")`` underneath)."""
    from datatrove.utils.typeshelper import Languages
    from datatrove.utils.word_tokenizers import WhitespaceTokenizer

    return Languages.english if name == "spacy" else WhitespaceTokenizer()


def _step_stats(logging_dir: Path) -> list[dict]:
    stats = logging_dir / "stats.json"
    if not stats.exists():
        return []
    out = []
    for step in json.loads(stats.read_text()):
        out.append({"name": step.get("name"), "stats": step.get("stats"),
                    "time_s": (step.get("time_stats") or {}).get("total")})
    return out


def run_pipeline(args: argparse.Namespace) -> dict:
    # imports before the clock (the project's side does the same)
    import fasttext  # noqa: F401
    import spacy  # noqa: F401
    import trafilatura  # noqa: F401
    import warcio  # noqa: F401
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.base import PipelineStep
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import LanguageFilter
    from datatrove.pipeline.readers import WarcReader

    _use_local_model(args.model)
    captured: list[dict] = []

    class Capture(PipelineStep):
        name = "capture"
        type = "bench"

        def run(self, data, rank: int = 0, world_size: int = 1):
            for doc in data:
                captured.append({"url": doc.metadata.get("url"), "text": doc.text,
                                 "lang": doc.metadata.get("language")})
                yield doc

    work = Path(args.work)
    warc = Path(args.warc)
    minhash = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8, seed=1,
                            hash_config=_hash_config(args.precision))
    pipeline = [
        WarcReader(str(warc.parent), glob_pattern=warc.name, compression="infer"),
        Trafilatura(favour_precision=args.favour_precision, deduplicate=args.deduplicate, timeout=args.timeout),
        # label_only: every document keeps flowing (the project's langid drops nothing either)
        LanguageFilter(languages=None, label_only=True),
    ]
    if args.dump:
        pipeline.append(Capture())
    pipeline.append(MinhashDedupSignature(str(work / "signatures"), config=minhash, language=_tokenizer(args.tokenizer)))
    logging_dir = work / "logs"
    executor = LocalPipelineExecutor(pipeline=pipeline, tasks=1, workers=1, logging_dir=str(logging_dir),
                                     skip_completed=False)
    cpu0, wall0 = _cpu(), time.perf_counter()
    executor.run()
    cpu, wall = _cpu() - cpu0, time.perf_counter() - wall0
    steps = _step_stats(logging_dir)
    signed = next((s["stats"].get("total", 0) for s in steps if "MinHash" in (s["name"] or "")), None)
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as f:
            for row in captured:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return {"mode": "pipeline", "warc": str(warc), "cpu_s": cpu, "wall_s": wall, "docs": signed,
            "settings": {"favour_precision": args.favour_precision, "deduplicate": args.deduplicate,
                         "timeout": args.timeout, "precision": args.precision, "tokenizer": args.tokenizer,
                         "language_filter": "languages=None, label_only=True", "model": args.model},
            "steps": steps, "versions": _versions()}


def run_signature(args: argparse.Namespace) -> dict:
    from datatrove.data import Document
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

    texts = [json.loads(line)["text"] for line in open(args.texts, encoding="utf-8") if line.strip()]
    docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
    minhash = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8, seed=1,
                            hash_config=_hash_config(args.precision))
    work = Path(args.work)
    best = None
    for _ in range(args.repeat):
        step = MinhashDedupSignature(str(work / "signatures"), config=minhash, language=_tokenizer(args.tokenizer))
        if args.tokenizer == "spacy":
            step.word_tokenizer.tokenizer  # noqa: B018 -- load spaCy before the clock
        cpu0, wall0 = time.process_time(), time.perf_counter()
        step.run(iter(docs), rank=0, world_size=1)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        if best is None or cpu < best["cpu_s"]:
            best = {"cpu_s": cpu, "wall_s": wall}
    assert best is not None
    return {"mode": "signature", "docs": len(docs), "chars": sum(map(len, texts)), **best,
            "settings": {"precision": args.precision, "tokenizer": args.tokenizer, "repeat": args.repeat},
            "versions": _versions()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("pipeline")
    p.add_argument("--warc", required=True)
    p.add_argument("--model", required=True, help="local lid.176 file (.ftz or .bin)")
    p.add_argument("--work", required=True, help="empty folder for signatures and logs")
    p.add_argument("--favour-precision", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--deduplicate", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--timeout", type=float, default=20.0, help="extractor timeout per document (datatrove: 1)")
    p.add_argument("--precision", type=int, choices=(32, 64), default=32)
    p.add_argument("--tokenizer", choices=("spacy", "whitespace"), default="spacy")
    p.add_argument("--dump", help="write url/text/lang of every signed document here (JSONL)")
    p.add_argument("--out")
    s = sub.add_parser("signature")
    s.add_argument("--texts", required=True, help="JSONL with a 'text' field per line")
    s.add_argument("--work", required=True)
    s.add_argument("--precision", type=int, choices=(32, 64), default=32)
    s.add_argument("--tokenizer", choices=("spacy", "whitespace"), default="spacy")
    s.add_argument("--repeat", type=int, default=1, help="runs; the fastest (CPU) is reported")
    s.add_argument("--out")
    args = ap.parse_args()
    result = run_pipeline(args) if args.mode == "pipeline" else run_signature(args)
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
