"""Near-duplicate quality of the dedup steps on real sentences, against computed Jaccard.

Documents are assembled from real sentences (``langid-A/by-lang`` — FLORES-200,
sentence-aligned across languages — and ``langid-C/sentences/by-lang``), 30-60
sentences each, wrapped in a per-site header and footer of 2-5 sentences.
Each base document gets variants aimed at target Jaccard values spread over
0.15-1.0: word edits (substitute/delete/insert), sentence deletions, sentence
insertions, header/footer (boilerplate) changes, a mix of these, and
normalisation-only changes (case, punctuation, other numbers, spacing). The *true*
Jaccard of every pair is computed from the two 5-shingle sets (the same
normalisation and tokenisation as :mod:`owd.dedup.minhash`). Negatives: all pairs
of unrelated bases of one language (some share a site's boilerplate) and
translations of one base into other languages.

Everything runs through SignatureStep -> BucketStep -> ClusterStep, then:

* precision/recall of "same cluster" against ``J >= 0.75``. That threshold
  sits just above the 50 % point of the 14 x 8 banding (0.72), i.e. what the
  FineWeb configuration is built to find; pairs in the transition band are
  reported separately as well (P/R outside 0.65 <= J < 0.85);
* the detection probability per Jaccard bin, both "same cluster" (which also
  counts links through other variants) and "direct" (the two documents share
  a band, the event the S-curve ``1-(1-s^8)^14`` describes), against theory.

    python bench/eval_neardup.py                    # all 24 languages
    python bench/eval_neardup.py --langs en de el bg --bases 16 --variants 12
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from owd.dedup import BucketStep, ClusterStep, MinhashConfig, SignatureStep, theoretical_detection  # noqa: E402
from owd.dedup.minhash import shingles, words  # noqa: E402
from owd.dedup.text import normalise  # noqa: E402
from owd.core.schema import Document  # noqa: E402
from owd.shared_data import shared_data_dir  # noqa: E402

ALL_LANGS = ("bg cs da de el en es et fi fr ga hr hu it lt lv mt nl pl pt ro sk sl sv").split()
THRESHOLD = 0.75
GRAY = (0.65, 0.85)
KINDS = ("words", "delete", "insert", "boilerplate", "mixed", "format")
BLOCK = 60  # aligned langid-A lines per base document block


@dataclass
class Pair:
    a: str
    b: str
    lang_a: str
    lang_b: str
    kind: str  # a variant kind, "unrelated" or "translation"
    jaccard: float


def shingle_set(text: str) -> set[bytes]:
    return set(shingles(words(normalise(text)), MinhashConfig().n_grams))


def jaccard(x: set[bytes], y: set[bytes]) -> float:
    return len(x & y) / len(x | y) if x or y else 1.0


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if len(line.split()) >= 4]


class Corpus:
    """Base documents, variants and labelled pairs for some languages, deterministic from ``seed``."""

    def __init__(self, data: Path, langs: list[str], bases: int = 16, variants: int = 12, seed: int = 1,
                 sites: int = 4) -> None:
        self.docs: dict[str, Document] = {}
        self.pairs: list[Pair] = []
        n_a = bases // 2
        if n_a * BLOCK > 900:
            raise ValueError(f"at most {2 * 900 // BLOCK} bases per language (langid-A has ~1000 lines)")
        # Block sizes depend on the seed only, so block j is the same content in every language.
        block_rng = random.Random(seed)
        block_sizes = [block_rng.randint(30, 60) for _ in range(n_a)]
        aligned: dict[int, list[tuple[str, str]]] = defaultdict(list)  # block -> [(lang, base id)]
        for lang in langs:
            rng = random.Random(seed * 1_000_003 + zlib.crc32(lang.encode()))
            a_lines = _read_lines(data / "langid-A" / "by-lang" / f"{lang}.txt")
            c_lines = _read_lines(data / "langid-C" / "sentences" / "by-lang" / f"{lang}.txt")
            rng.shuffle(c_lines)
            if len(a_lines) < n_a * BLOCK:
                raise ValueError(f"langid-A/{lang} has {len(a_lines)} lines, need {n_a * BLOCK}")
            reserve = a_lines[n_a * BLOCK:]
            bodies = [a_lines[j * BLOCK: j * BLOCK + block_sizes[j]] for j in range(n_a)]
            pos = 0
            while len(bodies) < bases:
                k = rng.randint(30, 60)
                if pos + k > len(c_lines) - 200:
                    # Languages without langid-C sentences (mt) use more langid-A lines.
                    take, reserve = reserve[:k], reserve[k:]
                    bodies.append(take)
                else:
                    bodies.append(c_lines[pos:pos + k])
                    pos += k
            reserve = reserve + c_lines[pos:]
            rng.shuffle(reserve)
            boiler = [(reserve[6 * s: 6 * s + rng.randint(2, 5)], reserve[6 * s + 3: 6 * s + 3 + rng.randint(2, 3)])
                      for s in range(sites)]
            reserve = reserve[6 * sites:]
            vocab = sorted({w for line in reserve for w in line.split()})
            base_ids = []
            for i, body in enumerate(bodies):
                site = i % sites
                base_id = f"{lang}-b{i:02d}"
                base_ids.append(base_id)
                head, foot = boiler[site]
                self._add(base_id, lang, head + body + foot)
                if i < n_a:
                    aligned[i].append((lang, base_id))
                for v in range(variants):
                    kind = KINDS[v % len(KINDS)]
                    target = rng.uniform(0.15, 1.0)
                    lines = self._variant(kind, target, head, body, foot, boiler, site, reserve, vocab, rng)
                    var_id = f"{base_id}-v{v:02d}-{kind}"
                    self._add(var_id, lang, lines)
                    self.pairs.append(Pair(base_id, var_id, lang, lang, kind, 0.0))
            for x in range(len(base_ids)):
                for y in range(x + 1, len(base_ids)):
                    self.pairs.append(Pair(base_ids[x], base_ids[y], lang, lang, "unrelated", 0.0))
        for members in aligned.values():
            for x in range(len(members)):
                for y in range(x + 1, len(members)):
                    (la, a), (lb, b) = members[x], members[y]
                    self.pairs.append(Pair(a, b, la, lb, "translation", 0.0))
        sets = {doc_id: shingle_set(d.text or "") for doc_id, d in self.docs.items()}
        for p in self.pairs:
            p.jaccard = jaccard(sets[p.a], sets[p.b])

    def _add(self, doc_id: str, lang: str, lines: list[str]) -> None:
        self.docs[doc_id] = Document(id=doc_id, url=f"https://{lang}.example.eu/{doc_id}", host=f"{lang}.example.eu",
                                     campaign="eval", lang=lang, text="\n".join(lines))

    @staticmethod
    def _variant(kind: str, target: float, head: list[str], body: list[str], foot: list[str],
                 boiler: list[tuple[list[str], list[str]]], site: int, reserve: list[str], vocab: list[str],
                 rng: random.Random) -> list[str]:
        body = list(body)
        if kind == "mixed":
            # Split the "damage" between two edit kinds.
            target_each = target ** 0.5
            body = Corpus._variant("delete", target_each, [], body, [], boiler, site, reserve, vocab, rng)
            return Corpus._variant("words", target_each, head, body, foot, boiler, site, reserve, vocab, rng)
        if kind == "words":
            # Each edited word breaks ~5 shingles: (1-r)^5 ~ 2J/(1+J).
            rate = 1 - (2 * target / (1 + target)) ** (1 / 5)
            out = []
            for line in body:
                ws = []
                for w in line.split():
                    roll = rng.random()
                    if roll < rate / 3:
                        ws.append(rng.choice(vocab))
                    elif roll < 2 * rate / 3:
                        continue
                    elif roll < rate:
                        ws.extend([w, rng.choice(vocab)])
                    else:
                        ws.append(w)
                out.append(" ".join(ws))
            return head + out + foot
        if kind == "delete":
            k = min(len(body) - 1, round(len(body) * (1 - target)))
            drop = set(rng.sample(range(len(body)), k))
            return head + [s for i, s in enumerate(body) if i not in drop] + foot
        if kind == "insert":
            k = round(len(body) * (1 / target - 1))
            start = rng.randrange(max(1, len(reserve) - k))
            for s in reserve[start:start + k]:
                body.insert(rng.randrange(len(body) + 1), s)
            return head + body + foot
        if kind == "boilerplate":
            # Another site's header and footer, possibly larger, sometimes none.
            other_head, other_foot = boiler[(site + 1 + rng.randrange(len(boiler) - 1)) % len(boiler)]
            extra = rng.sample(reserve, rng.randint(0, 12)) if target < 0.8 else []
            choice = rng.random()
            if choice < 0.2:
                return body
            return other_head + extra[: len(extra) // 2] + body + extra[len(extra) // 2:] + other_foot
        if kind == "format":
            # Case, punctuation, digits and spacing only: equal after normalisation.
            lines = [s.upper() if rng.random() < 0.3 else s for s in head + body + foot]
            lines = [s.replace(", ", " , ").replace(" ", "  ") + " !" for s in lines]
            return [re.sub(r"\d+", lambda m: str(rng.randint(1, 2099)), s) for s in lines]
        raise ValueError(kind)


def evaluate(corpus: Corpus, work: Path, shards: int = 4, config: MinhashConfig = MinhashConfig()) -> dict[str, Any]:
    """Run the three steps over the corpus and score the labelled pairs."""
    ids = sorted(corpus.docs)
    random.Random(0).shuffle(ids)
    t0 = time.perf_counter()
    sig = SignatureStep(work, config)
    for s in range(shards):
        sig.run(f"shard-{s:03d}", (corpus.docs[i] for i in ids[s::shards]))
    t_sig = time.perf_counter() - t0
    BucketStep(work, num_partitions=8).run()
    clusters_path = ClusterStep(work).run()
    t_all = time.perf_counter() - t0
    cluster = {r["doc_id"]: r["cluster_id"] for r in pq.read_table(clusters_path, columns=["doc_id", "cluster_id"])
               .to_pylist()}
    band_sets: dict[str, set[tuple[int, int]]] = {}
    for path in sorted((work / "signatures").glob("*.parquet")):
        t = pq.read_table(path).to_pydict()
        for row, doc_id in enumerate(t["doc_id"]):
            band_sets[doc_id] = {(b, t[f"band_{b}"][row]) for b in range(config.num_bands)}

    same = [cluster.get(p.a, p.a) == cluster.get(p.b, p.b) for p in corpus.pairs]
    direct = [p.lang_a == p.lang_b and bool(band_sets[p.a] & band_sets[p.b]) for p in corpus.pairs]
    mono = [i for i, p in enumerate(corpus.pairs) if p.lang_a == p.lang_b]

    def pr(indices: list[int]) -> dict[str, float | int]:
        tp = sum(1 for i in indices if same[i] and corpus.pairs[i].jaccard >= THRESHOLD)
        fp = sum(1 for i in indices if same[i] and corpus.pairs[i].jaccard < THRESHOLD)
        fn = sum(1 for i in indices if not same[i] and corpus.pairs[i].jaccard >= THRESHOLD)
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"pairs": len(indices), "positives": tp + fn, "tp": tp, "fp": fp, "fn": fn,
                "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}

    outside_gray = [i for i in mono if not GRAY[0] <= corpus.pairs[i].jaccard < GRAY[1]]
    edges = np.round(np.arange(0.0, 1.0001, 0.05), 2)
    curve = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        idx = [i for i in mono if lo <= corpus.pairs[i].jaccard < hi or (hi == 1.0 and corpus.pairs[i].jaccard == 1.0)]
        if not idx:
            continue
        js = np.array([corpus.pairs[i].jaccard for i in idx])
        curve.append({"bin": f"{lo:.2f}-{hi:.2f}", "pairs": len(idx),
                      "same_cluster": round(sum(same[i] for i in idx) / len(idx), 4),
                      "direct": round(sum(direct[i] for i in idx) / len(idx), 4),
                      "theory": round(float(np.mean(theoretical_detection(js, config))), 4)})
    by_kind: dict[str, dict[str, Any]] = {}
    for kind in sorted({p.kind for p in corpus.pairs}):
        idx = [i for i, p in enumerate(corpus.pairs) if p.kind == kind]
        kind_js = [corpus.pairs[i].jaccard for i in idx]
        by_kind[kind] = {"pairs": len(idx), "jaccard_min": round(min(kind_js), 3),
                         "jaccard_max": round(max(kind_js), 3),
                         "same_cluster": round(sum(same[i] for i in idx) / len(idx), 4)}
    translation = [i for i, p in enumerate(corpus.pairs) if p.kind == "translation"]
    unrelated = [i for i, p in enumerate(corpus.pairs) if p.kind == "unrelated"]
    return {
        "languages": sorted({p.lang_a for p in corpus.pairs}),
        "documents": len(corpus.docs),
        "labelled_pairs": len(corpus.pairs),
        "threshold": THRESHOLD,
        "config": {"n_grams": config.n_grams, "num_bands": config.num_bands, "rows_per_band": config.rows_per_band,
                   "hash_fn": config.hash_fn},
        "all": pr(mono),
        "outside_gray_zone": {"gray_zone": list(GRAY), **pr(outside_gray)},
        "curve": curve,
        "by_kind": by_kind,
        "translations_merged": sum(same[i] for i in translation),
        "translation_pairs": len(translation),
        "unrelated_merged": sum(same[i] for i in unrelated),
        "unrelated_pairs": len(unrelated),
        "unrelated_max_jaccard": round(max((corpus.pairs[i].jaccard for i in unrelated), default=0.0), 4),
        "seconds": {"signatures": round(t_sig, 2), "total": round(t_all, 2)},
    }


def run(langs: list[str], bases: int = 16, variants: int = 12, seed: int = 1,
        data: Path | None = None) -> dict[str, Any]:
    data = data or shared_data_dir()
    if data is None:
        raise SystemExit("../shared/data is absent: this evaluation needs its real sentences")
    corpus = Corpus(data, langs, bases=bases, variants=variants, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        return evaluate(corpus, Path(tmp))


def print_table(res: dict[str, Any]) -> None:
    a, g = res["all"], res["outside_gray_zone"]
    print(f"{res['documents']} documents, {res['labelled_pairs']} labelled pairs, {len(res['languages'])} languages")
    print(f"same cluster vs J >= {res['threshold']}: P={a['precision']:.3f} R={a['recall']:.3f} F1={a['f1']:.3f} "
          f"(tp={a['tp']} fp={a['fp']} fn={a['fn']})")
    print(f"outside {g['gray_zone']}: P={g['precision']:.3f} R={g['recall']:.3f} (tp={g['tp']} fp={g['fp']} fn={g['fn']})")
    print(f"unrelated merged {res['unrelated_merged']}/{res['unrelated_pairs']} (max J {res['unrelated_max_jaccard']}), "
          f"translations merged {res['translations_merged']}/{res['translation_pairs']}")
    print(f"\n{'Jaccard':>10} {'pairs':>6} {'cluster':>8} {'direct':>7} {'theory':>7}")
    for row in res["curve"]:
        print(f"{row['bin']:>10} {row['pairs']:6d} {row['same_cluster']:8.3f} {row['direct']:7.3f} {row['theory']:7.3f}")
    print(f"\n{'kind':>12} {'pairs':>6} {'J min':>6} {'J max':>6} {'cluster':>8}")
    for kind, row in res["by_kind"].items():
        print(f"{kind:>12} {row['pairs']:6d} {row['jaccard_min']:6.3f} {row['jaccard_max']:6.3f} {row['same_cluster']:8.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--langs", nargs="+", default=list(ALL_LANGS))
    ap.add_argument("--bases", type=int, default=16, help="base documents per language")
    ap.add_argument("--variants", type=int, default=12, help="variants per base document")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "eval_neardup.json")
    args = ap.parse_args()
    res = run(args.langs, args.bases, args.variants, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    print_table(res)
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
