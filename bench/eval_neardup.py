"""Near-duplicate quality of the dedup steps on real sentences, against computed Jaccard.

Documents are assembled from real sentences (``langid-A/by-lang`` — FLORES-200,
sentence-aligned across languages — and ``langid-C/sentences/by-lang``), 30-60
sentences each, wrapped in a per-site header and footer of 2-5 sentences.
Each base document gets variants aimed at target Jaccard values spread over
0.15-1.0: word edits (substitute/delete/insert), sentence deletions, sentence
insertions, header/footer (boilerplate) changes, a mix of these, and
normalisation-only changes (case, punctuation, other numbers, spacing). The *true*
Jaccard of every pair is computed from the two 5-shingle sets (the same
normalisation and tokenisation as :mod:`owd.dedup.minhash`).

Labelled pairs: each base with each of its variants; the variants of one base
with each other (``sibling``: two variants each close to the base need not be
close to each other, the case where clusters chain); ``chain`` documents, each a
word-edited copy of the one before (A ~ B ~ C ~ D ~ E, every pair labelled: the
ends are distinct although every step is a near duplicate; by the triangle
inequality of Jaccard distance, ends of two steps >= 0.8 are always >= 0.6, so a
chain needs three steps before its ends are distinct); negatives: all pairs of
unrelated bases of one language (some share a site's boilerplate) and
translations of one base into other languages. Document ids are opaque hashes,
so which document of a group the keep policy keeps (the smallest id) is as
arbitrary as in a crawl.

Everything runs through SignatureStep -> BucketStep -> ClusterStep (both the
default ``representative`` clustering and FineWeb's unverified ``components``
on the same buckets), then:

* precision/recall of "same cluster" with duplicates at ``J >= 0.8`` against
  distinct pairs at ``J < 0.6`` (pairs in between are not scored), overall,
  per pair kind and for the chains (``all``, ``by_kind``, ``chains``);
* the same as before this definition, for comparison over time:
  ``J >= 0.75`` on base-variant pairs, and outside 0.65 <= J < 0.85
  (``base_variant_075``, ``outside_gray_zone``);
* the detection probability per Jaccard bin, both "same cluster" and "direct"
  (the two documents share a band, the event the S-curve ``1-(1-s^8)^14``
  describes), against theory.

    python bench/eval_neardup.py                    # all 24 languages
    python bench/eval_neardup.py --langs en de el bg --bases 16 --variants 12
    python bench/eval_neardup.py --seed 2           # other documents, variants and chains
"""

from __future__ import annotations

import argparse
import hashlib
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
DUPLICATE = 0.8  # J >= this: a near duplicate (the task's definition)
DISTINCT = 0.6  # J < this: distinct documents
LEGACY_THRESHOLD = 0.75  # the definition used before (base-variant pairs only)
LEGACY_GRAY = (0.65, 0.85)
KINDS = ("words", "delete", "insert", "boilerplate", "mixed", "format")
METHODS = ("representative", "components")
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
                 sites: int = 4, chains: int = 4, chain_len: int = 5) -> None:
        self.docs: dict[str, Document] = {}
        self.names: dict[str, str] = {}  # opaque id -> readable name
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
                head, foot = boiler[site]
                base_id = self._add(f"{lang}-b{i:02d}", lang, head + body + foot)
                base_ids.append(base_id)
                if i < n_a:
                    aligned[i].append((lang, base_id))
                var_ids = []
                for v in range(variants):
                    kind = KINDS[v % len(KINDS)]
                    target = rng.uniform(0.15, 1.0)
                    lines = self._variant(kind, target, head, body, foot, boiler, site, reserve, vocab, rng)
                    var_id = self._add(f"{lang}-b{i:02d}-v{v:02d}-{kind}", lang, lines)
                    self.pairs.append(Pair(base_id, var_id, lang, lang, kind, 0.0))
                    var_ids.append(var_id)
                self.pairs += [Pair(var_ids[x], var_ids[y], lang, lang, "sibling", 0.0)
                               for x in range(len(var_ids)) for y in range(x + 1, len(var_ids))]
            for x in range(len(base_ids)):
                for y in range(x + 1, len(base_ids)):
                    self.pairs.append(Pair(base_ids[x], base_ids[y], lang, lang, "unrelated", 0.0))
            # A generator of its own, so the bases and variants above stay what they were.
            chain_rng = random.Random(seed * 7_919 + zlib.crc32(lang.encode()))
            for c in range(chains):
                self._chain(lang, c, chain_len, reserve, vocab, boiler[c % sites], chain_rng)
        for members in aligned.values():
            for x in range(len(members)):
                for y in range(x + 1, len(members)):
                    (la, a), (lb, b) = members[x], members[y]
                    self.pairs.append(Pair(a, b, la, lb, "translation", 0.0))
        sets = {doc_id: shingle_set(d.text or "") for doc_id, d in self.docs.items()}
        for p in self.pairs:
            p.jaccard = jaccard(sets[p.a], sets[p.b])

    def _add(self, name: str, lang: str, lines: list[str]) -> str:
        # Opaque, like the pipeline's ids: the smallest id of a group (the kept document under
        # keep="first") is then any of its members, not always the base.
        doc_id = f"{lang}-{hashlib.blake2b(name.encode(), digest_size=6).hexdigest()}"
        self.names[doc_id] = name
        self.docs[doc_id] = Document(id=doc_id, url=f"https://{lang}.example.eu/{doc_id}", host=f"{lang}.example.eu",
                                     campaign="eval", lang=lang, text="\n".join(lines))
        return doc_id

    def _chain(self, lang: str, c: int, length: int, reserve: list[str], vocab: list[str],
               site: tuple[list[str], list[str]], rng: random.Random) -> None:
        """``length`` documents, each a word-edited copy (J ~0.82) of the previous one; all pairs labelled."""
        k = rng.randint(30, 60)
        start = rng.randrange(max(1, len(reserve) - k))
        body = reserve[start:start + k]
        head, foot = site
        ids = []
        for step in range(length):
            if step:
                body = self._variant("words", rng.uniform(0.81, 0.85), [], body, [], [], 0, reserve, vocab, rng)
            ids.append(self._add(f"{lang}-chain{c}-{step}", lang, head + body + foot))
        self.pairs += [Pair(ids[x], ids[y], lang, lang, "chain", 0.0)
                       for x in range(length) for y in range(x + 1, length)]

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


def _score(pairs: list[Pair], same: list[bool], indices: list[int], pos: float, neg: float) -> dict[str, float | int]:
    """Precision/recall of "same cluster": positives J >= pos, negatives J < neg, the rest not scored."""
    tp = sum(1 for i in indices if same[i] and pairs[i].jaccard >= pos)
    fp = sum(1 for i in indices if same[i] and pairs[i].jaccard < neg)
    fn = sum(1 for i in indices if not same[i] and pairs[i].jaccard >= pos)
    tn = sum(1 for i in indices if not same[i] and pairs[i].jaccard < neg)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"pairs": tp + fp + fn + tn, "positives": tp + fn, "negatives": fp + tn, "tp": tp, "fp": fp, "fn": fn,
            "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def _chain_step(name: str) -> tuple[str, int]:
    chain, step = name.rsplit("-", 1)
    return chain, int(step)


def evaluate(corpus: Corpus, work: Path, shards: int = 4, config: MinhashConfig = MinhashConfig()) -> dict[str, Any]:
    """Run the three steps over the corpus and score the labelled pairs, for each clustering method."""
    ids = sorted(corpus.docs)
    random.Random(0).shuffle(ids)
    t0 = time.perf_counter()
    sig = SignatureStep(work, config)
    for s in range(shards):
        sig.run(f"shard-{s:03d}", (corpus.docs[i] for i in ids[s::shards]))
    t_sig = time.perf_counter() - t0
    BucketStep(work, num_partitions=8).run()
    t_buckets = time.perf_counter() - t0 - t_sig
    band_sets: dict[str, set[tuple[int, int]]] = {}
    for path in sorted((work / "signatures").glob("*.parquet")):
        t = pq.read_table(path, columns=["doc_id"] + [f"band_{b}" for b in range(config.num_bands)]).to_pydict()
        for row, doc_id in enumerate(t["doc_id"]):
            band_sets[doc_id] = {(b, t[f"band_{b}"][row]) for b in range(config.num_bands)}
    pairs = corpus.pairs
    direct = [p.lang_a == p.lang_b and bool(band_sets[p.a] & band_sets[p.b]) for p in pairs]
    mono = [i for i, p in enumerate(pairs) if p.lang_a == p.lang_b]
    base_variant = [i for i in mono if pairs[i].kind in KINDS or pairs[i].kind == "unrelated"]
    legacy_gray = [i for i in base_variant if not LEGACY_GRAY[0] <= pairs[i].jaccard < LEGACY_GRAY[1]]
    chain_idx = [i for i, p in enumerate(pairs) if p.kind == "chain"]
    translation = [i for i, p in enumerate(pairs) if p.kind == "translation"]
    unrelated = [i for i, p in enumerate(pairs) if p.kind == "unrelated"]
    edges = np.round(np.arange(0.0, 1.0001, 0.05), 2)
    bins = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        idx = [i for i in mono if lo <= pairs[i].jaccard < hi or (hi == 1.0 and pairs[i].jaccard == 1.0)]
        if idx:
            bins.append((f"{lo:.2f}-{hi:.2f}", idx))

    result: dict[str, Any] = {
        "languages": sorted({p.lang_a for p in pairs}),
        "documents": len(corpus.docs),
        "labelled_pairs": len(pairs),
        "definition": {"duplicate": f"J >= {DUPLICATE}", "distinct": f"J < {DISTINCT}", "between": "not scored"},
        "config": {"n_grams": config.n_grams, "num_bands": config.num_bands, "rows_per_band": config.rows_per_band,
                   "hash_fn": config.hash_fn},
        "pair_kinds": {kind: sum(1 for p in pairs if p.kind == kind) for kind in sorted({p.kind for p in pairs})},
        "seconds": {"signatures": round(t_sig, 2), "buckets": round(t_buckets, 2)},
    }
    for method in METHODS:
        t1 = time.perf_counter()
        clusters_path = ClusterStep(work, method=method).run()  # type: ignore[arg-type]
        result["seconds"][f"cluster_{method}"] = round(time.perf_counter() - t1, 2)
        cluster = {r["doc_id"]: r["cluster_id"] for r in pq.read_table(clusters_path, columns=["doc_id", "cluster_id"])
                   .to_pylist()}
        same = [cluster.get(p.a, p.a) == cluster.get(p.b, p.b) for p in pairs]
        curve = []
        for name, idx in bins:
            js = np.array([pairs[i].jaccard for i in idx])
            bv = [i for i in idx if pairs[i].kind in KINDS]
            curve.append({"bin": name, "pairs": len(idx),
                          "same_cluster": round(sum(same[i] for i in idx) / len(idx), 4),
                          "direct": round(sum(direct[i] for i in idx) / len(idx), 4),
                          "theory": round(float(np.mean(theoretical_detection(js, config))), 4),
                          # base-variant pairs alone: the pairs the curve had before siblings and chains
                          "base_variant_pairs": len(bv),
                          "base_variant_same_cluster": round(sum(same[i] for i in bv) / len(bv), 4) if bv else None})
        by_kind: dict[str, dict[str, Any]] = {}
        for kind in sorted({p.kind for p in pairs}):
            idx = [i for i, p in enumerate(pairs) if p.kind == kind]
            kind_js = [pairs[i].jaccard for i in idx]
            by_kind[kind] = {"pairs": len(idx), "jaccard_min": round(min(kind_js), 3),
                             "jaccard_max": round(max(kind_js), 3),
                             "same_cluster": round(sum(same[i] for i in idx) / len(idx), 4),
                             **{k: v for k, v in _score(pairs, same, idx, DUPLICATE, DISTINCT).items()
                                if k in ("positives", "negatives", "tp", "fp", "fn", "precision", "recall", "f1")}}
        # Chains: a partition that keeps distinct ends apart must cut at least one link, so
        # the best possible link recall of a chain is below 1 by design; "ends_merged" counts
        # chains whose first and last documents (distinct) ended up in one cluster.
        by_chain: dict[str, dict[int, str]] = defaultdict(dict)
        for i in chain_idx:
            for doc_id in (pairs[i].a, pairs[i].b):
                chain, step = _chain_step(corpus.names[doc_id])
                by_chain[chain][step] = cluster.get(doc_id, doc_id)
        ends_merged = sum(1 for steps in by_chain.values() if steps[0] == steps[max(steps)])
        result[method] = {
            "all": _score(pairs, same, mono, DUPLICATE, DISTINCT),
            "chains": {**_score(pairs, same, chain_idx, DUPLICATE, DISTINCT), "chains": len(by_chain),
                       "ends_merged": ends_merged},
            "base_variant_075": _score(pairs, same, base_variant, LEGACY_THRESHOLD, LEGACY_THRESHOLD),
            "outside_gray_zone": {"gray_zone": list(LEGACY_GRAY),
                                  **_score(pairs, same, legacy_gray, LEGACY_THRESHOLD, LEGACY_THRESHOLD)},
            "curve": curve,
            "by_kind": by_kind,
            "translations_merged": sum(same[i] for i in translation),
            "unrelated_merged": sum(same[i] for i in unrelated),
        }
    result["translation_pairs"] = len(translation)
    result["unrelated_pairs"] = len(unrelated)
    result["unrelated_max_jaccard"] = round(max((pairs[i].jaccard for i in unrelated), default=0.0), 4)
    return result


def run(langs: list[str], bases: int = 16, variants: int = 12, seed: int = 1,
        data: Path | None = None, chains: int = 4) -> dict[str, Any]:
    data = data or shared_data_dir()
    if data is None:
        raise SystemExit("../shared/data is absent: this evaluation needs its real sentences")
    corpus = Corpus(data, langs, bases=bases, variants=variants, seed=seed, chains=chains)
    with tempfile.TemporaryDirectory() as tmp:
        res = evaluate(corpus, Path(tmp))
    res["seed"] = seed
    return res


def print_table(res: dict[str, Any]) -> None:
    print(f"{res['documents']} documents, {res['labelled_pairs']} labelled pairs, {len(res['languages'])} languages, "
          f"seed {res['seed']}: {res['pair_kinds']}")
    print(f"duplicates J >= {DUPLICATE}, distinct J < {DISTINCT} (between: not scored)\n")
    print(f"{'method':>15} {'set':>18} {'P':>6} {'R':>6} {'F1':>6} {'tp':>6} {'fp':>5} {'fn':>5}")
    for method in METHODS:
        m = res[method]
        rows = [("all", m["all"]), ("chains", m["chains"]), ("J>=0.75 base-var", m["base_variant_075"]),
                ("outside .65-.85", m["outside_gray_zone"])]
        rows += [(f"kind {k}", v) for k, v in m["by_kind"].items() if k in ("sibling",)]
        for name, r in rows:
            print(f"{method:>15} {name:>18} {r['precision']:6.3f} {r['recall']:6.3f} {r['f1']:6.3f}"
                  f" {r['tp']:6d} {r['fp']:5d} {r['fn']:5d}")
        print(f"{method:>15} chain ends merged {m['chains']['ends_merged']}/{m['chains']['chains']}; unrelated merged "
              f"{m['unrelated_merged']}/{res['unrelated_pairs']} (max J {res['unrelated_max_jaccard']}), translations "
              f"merged {m['translations_merged']}/{res['translation_pairs']}")
    rep, cc = res["representative"], res["components"]
    print(f"\n{'':>17} {'same cluster, all pairs':>24}  {'base-variant pairs':>22}")
    print(f"{'Jaccard':>10} {'pairs':>6} {'repr.':>7} {'compon.':>8} {'direct':>7} {'theory':>7} {'pairs':>6} {'repr.':>7}"
          f" {'compon.':>8}")
    for a, b in zip(rep["curve"], cc["curve"]):
        bv = (f"{a['base_variant_pairs']:6d} {a['base_variant_same_cluster']:7.3f} {b['base_variant_same_cluster']:8.3f}"
              if a["base_variant_pairs"] else f"{0:6d}")
        print(f"{a['bin']:>10} {a['pairs']:6d} {a['same_cluster']:7.3f} {b['same_cluster']:8.3f} {a['direct']:7.3f}"
              f" {a['theory']:7.3f} {bv}")
    print(f"\n{'kind':>12} {'pairs':>6} {'J min':>6} {'J max':>6} {'repr.':>7} {'compon.':>8}   (same-cluster rate)")
    for kind, row in rep["by_kind"].items():
        print(f"{kind:>12} {row['pairs']:6d} {row['jaccard_min']:6.3f} {row['jaccard_max']:6.3f} "
              f"{row['same_cluster']:7.3f} {cc['by_kind'][kind]['same_cluster']:8.3f}")
    print(f"\nseconds: {res['seconds']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--langs", nargs="+", default=list(ALL_LANGS))
    ap.add_argument("--bases", type=int, default=16, help="base documents per language")
    ap.add_argument("--variants", type=int, default=12, help="variants per base document")
    ap.add_argument("--chains", type=int, default=4, help="edit chains (5 documents) per language")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None,
                    help="default: bench/results/eval_neardup.json (seed 1) or eval_neardup-seed<N>.json")
    args = ap.parse_args()
    res = run(args.langs, args.bases, args.variants, args.seed, chains=args.chains)
    res["command"] = " ".join(["python", "bench/eval_neardup.py", *sys.argv[1:]])
    out = args.out or Path(__file__).resolve().parent / "results" / (
        "eval_neardup.json" if args.seed == 1 else f"eval_neardup-seed{args.seed}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    print_table(res)
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
