"""WARC read throughput: FastWARC vs warcio, as libraries and inside extract.read_warc.

Inputs: a crawl-format WARC written here with crawler.warc.WarcWriter (request +
response + metadata per fetch; real pages from ``pages-A`` when the shared data
is present, half of the bodies gzip-coded as on the wire; synthetic HTML
otherwise), plus the larger real WARCs of ``shared/data/warc`` that both
libraries read (or the files given with ``--files``).

Per engine and file, best of ``--repeat`` runs:

* ``lib``: the library alone -- iterate, parse HTTP headers, read every payload
  (no content decoding);
* ``read_warc``: our reader end to end (metadata pass, HTTP parsing, content
  decoding, FetchRecord building).

    python bench/bench_warc_read.py [--fetches 1500] [--repeat 3] [--files A.warc.gz ...]

Prints a table and writes bench/results/warc_read.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastwarc.warc import ArchiveIterator as FastIterator  # noqa: E402
from warcio.archiveiterator import ArchiveIterator as WarcioIterator  # noqa: E402

from owd.crawler.warc import WarcWriter  # noqa: E402
from owd.extract.warc_reader import read_warc  # noqa: E402
from owd.shared_data import shared_data_dir  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "warc_read.json"
# Real WARCs in shared/data/warc that both engines read to the end (the others are
# tiny or malformed: see tests/extract/test_foreign_warcs.py).
REAL_FILES = ["dolma__sample-0000.warc.gz", "dolma__sample-0001.warc.gz", "chatnoir-resiliparse__warcfile.warc.gz",
              "chatnoir-resiliparse__clueweb-quirk.warc.gz", "incubator-stormcrawler__test.warc.gz",
              "webarchive-commons__IAH-urls-wget.warc.gz"]


def page_bodies(n: int) -> list[bytes]:
    data = shared_data_dir()
    html_dir = data / "pages-A" / "html" if data else None
    if html_dir is not None and html_dir.is_dir():
        pages = [gzip.decompress(p.read_bytes()) for p in sorted(html_dir.glob("*.html.gz"))[:n]]
        if pages:
            return pages
    rnd = random.Random(3)
    words = [rnd.randbytes(rnd.randint(2, 8)).hex() for _ in range(3000)]
    return [("<html><body>" + "".join(f"<p>{' '.join(rnd.choices(words, k=60))}</p>" for _ in range(40))
             + "</body></html>").encode() for _ in range(min(n, 200))]


def write_crawl_warc(directory: Path, fetches: int) -> Path:
    pages = page_bodies(fetches)
    with WarcWriter(directory, "bench-read", max_size=10**10, fsync=False) as w:
        for i in range(fetches):
            body = pages[i % len(pages)]
            headers = [(b"Content-Type", b"text/html; charset=utf-8")]
            if i % 2:
                body = gzip.compress(body, compresslevel=6, mtime=0)
                headers.append((b"Content-Encoding", b"gzip"))
            w.write_fetch(f"https://site{i % 40}.example.eu/p/{i}.html", status=200, body=body,
                          request_headers=[(b"User-Agent", b"owd-bench")], response_headers=headers,
                          ip_address="192.0.2.7", fetch_time=1_780_000_000 + i,
                          metadata={"kind": "page", "depth": i % 3, "campaign": "bench",
                                    "tdm": {"reservation": None}})
    return w.finished[0]


def lib_fastwarc(path: Path) -> int:
    n = 0
    with open(path, "rb") as f:
        for rec in FastIterator(f, parse_http=True):
            rec.reader.read()
            n += 1
    return n


def lib_warcio(path: Path) -> int:
    n = 0
    with open(path, "rb") as f:
        for rec in WarcioIterator(f):
            rec.raw_stream.read()
            n += 1
    return n


def ours(engine: str):  # type: ignore[no-untyped-def]
    def run(path: Path) -> int:
        return sum(1 for _ in read_warc(path, Counter(), engine=engine))  # type: ignore[arg-type]
    return run


def best_of(fn, path: Path, repeat: int) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    best = float("inf")
    n = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = fn(path)
        best = min(best, time.perf_counter() - t0)
    return n, best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fetches", type=int, default=1500, help="fetches in the generated crawl WARC")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--files", nargs="*", type=Path, help="WARC files to read instead of the defaults")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.files:
            files = list(args.files)
        else:
            files = [write_crawl_warc(Path(tmp), args.fetches)]
            data = shared_data_dir()
            if data is not None:
                files += [data / "warc" / name for name in REAL_FILES if (data / "warc" / name).exists()]
        runners = {("fastwarc", "lib"): lib_fastwarc, ("warcio", "lib"): lib_warcio,
                   ("fastwarc", "read_warc"): ours("fastwarc"), ("warcio", "read_warc"): ours("warcio")}
        rows = []
        for path in files:
            size = path.stat().st_size
            for (engine, level), fn in runners.items():
                n, secs = best_of(fn, path, args.repeat)
                rows.append({"file": path.name if "bench-read" not in path.name else "generated crawl WARC",
                             "engine": engine, "level": level, "records": n, "seconds": round(secs, 4),
                             "records_per_s": round(n / secs, 1), "mb_per_s": round(size / 1e6 / secs, 2),
                             "file_mb": round(size / 1e6, 2)})
    totals = []
    for engine in ("fastwarc", "warcio"):
        for level in ("lib", "read_warc"):
            sel = [r for r in rows if r["engine"] == engine and r["level"] == level]
            recs, secs = sum(r["records"] for r in sel), sum(r["seconds"] for r in sel)
            totals.append({"engine": engine, "level": level, "records": recs, "seconds": round(secs, 4),
                           "records_per_s": round(recs / secs, 1)})
    print(f"{'file':45} {'engine':9} {'level':10} {'records':>8} {'rec/s':>10} {'MB/s':>8}")
    for r in rows:
        print(f"{r['file'][:45]:45} {r['engine']:9} {r['level']:10} {r['records']:8d} "
              f"{r['records_per_s']:10.0f} {r['mb_per_s']:8.1f}")
    print("\nall files")
    for t in totals:
        print(f"{'':45} {t['engine']:9} {t['level']:10} {t['records']:8d} {t['records_per_s']:10.0f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"bench": "warc_read", "python": platform.python_version(),
                                   "machine": platform.machine(), "repeat": args.repeat,
                                   "results": rows, "totals": totals}, indent=2) + "\n")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
