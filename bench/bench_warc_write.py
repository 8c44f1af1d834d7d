"""Throughput of crawler.warc.WarcWriter: N synthetic fetches -> records/s and MB/s.

Bodies: real pages (``pages-A/html``) and media files (``media``) from the shared
data when present, else a synthetic mix (80% HTML-like text, 20% random binary);
either way every 5th fetch is binary, like a crawl with some PDFs/images. MB/s
counts uncompressed body bytes handed to the writer (compression dominates the
cost). Results go to bench/results/ as JSON.

    python bench/bench_warc_write.py --n 2000 --levels 1 6 9
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gzip  # noqa: E402

from owd.crawler.warc import WarcWriter  # noqa: E402
from owd.shared_data import shared_data_dir  # noqa: E402


def shared_bodies(n: int) -> list[tuple[str, bytes]] | None:
    data = shared_data_dir()
    if data is None or not (data / "pages-A" / "html").is_dir() or not (data / "media").is_dir():
        return None
    pages = [gzip.decompress(p.read_bytes()) for p in sorted((data / "pages-A" / "html").glob("*.html.gz"))]
    media = [p.read_bytes() for p in sorted((data / "media").iterdir()) if p.is_file()]
    if not pages or not media:
        return None
    return [("application/octet-stream", media[i % len(media)]) if i % 5 == 4
            else ("text/html; charset=utf-8", pages[i % len(pages)]) for i in range(n)]


def make_bodies(n: int, seed: int = 1) -> list[tuple[str, bytes]]:
    real = shared_bodies(n)
    if real is not None:
        return real
    rnd = random.Random(seed)
    words = [rnd.randbytes(rnd.randint(2, 9)).hex() for _ in range(2000)]
    out = []
    for i in range(n):
        if i % 5 == 4:
            out.append(("application/pdf", rnd.randbytes(200_000)))
        else:
            text = " ".join(rnd.choice(words) for _ in range(3000))
            out.append(("text/html; charset=utf-8", f"<html><body><p>{text}</p></body></html>".encode()))
    return out


def run(n: int, level: int, bodies: list[tuple[str, bytes]]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with WarcWriter(Path(tmp), "bench", compress_level=level, max_size=100_000_000, fsync=False) as w:
            for i, (ctype, body) in enumerate(bodies[:n]):
                w.write_fetch(f"https://site{i % 50}.example.eu/page/{i}", status=200, body=body,
                              request_headers=[(b"User-Agent", b"owd-bench")],
                              response_headers=[(b"Content-Type", ctype.encode())],
                              ip_address="192.0.2.1", metadata={"depth": i % 4, "campaign": "bench"})
        secs = time.perf_counter() - t0
        written = sum(p.stat().st_size for p in Path(tmp).glob("*.warc.gz"))
        files = len(list(Path(tmp).glob("*.warc.gz")))
    body_bytes = sum(len(b) for _, b in bodies[:n])
    return {"compress_level": level, "fetches": n, "records": 3 * n, "files": files,
            "seconds": round(secs, 3), "fetches_per_s": round(n / secs, 1),
            "records_per_s": round(3 * n / secs, 1), "body_mb_per_s": round(body_bytes / 1e6 / secs, 2),
            "body_mb": round(body_bytes / 1e6, 2), "warc_mb": round(written / 1e6, 2),
            "ratio": round(written / body_bytes, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--levels", type=int, nargs="+", default=[6, 9])
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parent / "results" / "warc_write.json")
    args = ap.parse_args()
    bodies = make_bodies(args.n)
    results = [run(args.n, level, bodies) for level in args.levels]
    report = {"bench": "warc_write", "bodies": "shared" if shared_bodies(1) else "synthetic",
              "python": platform.python_version(),
              "machine": platform.machine(), "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
