"""Quality heuristics for documents: Gopher quality and repetition, C4, FineWeb.

Three steps, kept apart so that filtering stays a separate, configurable decision:

* :func:`compute_signals` measures a text (word counts, symbol ratios, duplicate
  lines and n-grams, C4 and FineWeb line statistics) into a flat ``dict[str, float]``;
* :func:`decide` applies a :class:`QualityConfig` to those signals and returns the
  first failing rule as ``"<filter>:<rule>"`` (or ``None``);
* :func:`annotate` stores both on a :class:`~owd.core.schema.Document` and removes nothing.

The rules are those of Gopher (Rae et al. 2021, Table A1 and section A.1.1), C4
(Raffel et al. 2020, section 2.2) and FineWeb (Penedo et al. 2024), with the
defaults of their reference implementation in datatrove, and FineWeb-2's published
per-language thresholds (``configs/<lang>_<script>.yml`` of the FineWeb-2 repository)
as per-language overrides. Where this module differs from datatrove, a comment says so.

C4 *modifies* text (it drops lines without terminal punctuation, lines with
"javascript", cookie/policy lines, ...). This stage never changes ``doc.text``: it
records how many lines C4 would keep or drop and applies only C4's document-level
rules (lorem ipsum, curly bracket, too few sentences in the lines C4 would keep).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from owd.core.languages import EU_LANGUAGES, eu_code
from owd.core.quality_config import FILTERS, QualityConfig, active_filters
from owd.core.schema import Document

__all__ = [
    "EU_LANGS",
    "QualityConfig",
    "FILTERS",
    "STOP_WORDS",
    "REASON_PREFIXES",
    "active_filters",
    "annotate",
    "compute_signals",
    "decide",
    "normalise_lang",
    "tokenize",
]

# Reasons this module writes; annotate() replaces only reasons with these prefixes.
REASON_PREFIXES = ("gopher_quality:", "gopher_repetition:", "c4:", "fineweb:")

# --------------------------------------------------------------------------- languages

EU_LANGS = EU_LANGUAGES  # the table of owd.core.languages
normalise_lang = eu_code


# Stop words: a few of the most frequent function words per language, written for
# this project. Gopher's rule ("at least two of: the, be, to, of, and, that, have,
# with") is a test that a text is running prose, not a langid check, so the lists
# may overlap between related languages. English keeps Gopher's exact eight words.
# Entries are compared after casefold() (so Greek final sigma and German ß match)
# against the tokens of :func:`tokenize` for that language (so French "l'" and
# Maltese "il-" are tokens of their own).
_STOP_WORDS_RAW: dict[str, str] = {
    "bg": "и в на за от с се да е не че по са към как това който но до при",
    "cs": "a v se na je to že s z do o k i jako ale pro by jsou si po",
    "da": "og i at er det en den til på med for af som ikke de har et der var fra",
    "de": "der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als",
    "el": "και το της του τα η ο να σε με για που την των από είναι οι στο στην τον",
    "en": "the be to of and that have with",
    "es": "de la que el en y a los se del las un por con no una su para es al",
    "et": "ja on ei et see oli ka kui mis ta ning aga oma või nii selle seda kes veel siis",
    "fi": "ja on ei että se oli hän mutta kuin myös tai joka ovat sen niin kun jo vain nyt olla",
    "fr": "de la le et les des en un une du est que dans pour pas qui au sur l' d'",
    "ga": "an na agus ar i is a le sa go ag de do sé sí bhí ach níl tá don",
    "hr": "i u je na se da su za od a s o ne koji kao iz što to ali bi",
    "hu": "a az és hogy nem is egy meg de van volt el csak ez már mint ki még azt be",
    "it": "di e il la che a in per un è del della una non con i le da si l'",
    "lt": "ir yra kad į su o buvo iš kaip bet ne tai jis nuo po per apie dėl jo ar",
    "lv": "un ir ar no par uz ka bija kā arī tas lai bet to vai pie viņš nav līdz pēc",
    "mt": "il- l- u li ta' tal- fil- għall- minn ma hu hija biex jew fuq mill- kien dan din f'",
    "nl": "de het een en van in is dat op te zijn met voor niet die aan er ook door hij",
    "pl": "w i na z się do nie że to jest o a jak od po przez jako ale oraz dla",
    "pt": "de a o que e do da em um para é com não uma os no se na por mais",
    "ro": "de și în la a cu un o nu care pe din este că se mai fost pentru al sau",
    "sk": "a v na sa je z s do že to o aj ako ale pre by sú k po zo",
    "sl": "je in v na se da za so z ki pa ne s to bi tudi kot o ali iz",
    "sv": "och i att det som en är på av för med till den har inte de ett om var jag",
}


def _stop_key(token: str) -> str:
    """How a token is compared with the stop-word lists: casefolded, one apostrophe."""
    return token.casefold().replace("’", "'")


STOP_WORDS: dict[str, frozenset[str]] = {
    lang: frozenset(_stop_key(w) for w in words.split()) for lang, words in _STOP_WORDS_RAW.items()
}

# --------------------------------------------------------------------------- tokenisation

# One regex for all languages, then small language-specific splits below. Like the
# word tokenizers datatrove uses for FineWeb/FineWeb-2 (NLTK/spaCy), punctuation
# marks are tokens of their own; FineWeb-2's alpha-word, list and n-gram thresholds
# were calibrated on such token streams, so we keep that property. A run of one
# repeated symbol ("...", "!!!", "###") is one token, as in those tokenizers.
_TOKEN_PATTERN = r"""
      \d+(?:[.,:/]\d+)+              # numbers with separators: 1.234,56  10:30  27/11/2026
    | {extra}[^\W_]+(?:['’\-][^\W_]+)*  # words with inner apostrophes or hyphens: don't, Wi-Fi
    | ([^\w\s])\1*                   # a symbol, or a run of the same symbol
    | _+
"""
_TOKEN_RE = re.compile(_TOKEN_PATTERN.format(extra=""), re.VERBOSE)
# Maltese writes short words with a final apostrophe that belongs to the word
# (ta', fi', bi', ma'); without this the apostrophe becomes a symbol token and
# Maltese prose drops below FineWeb-2's alpha-word threshold.
_TOKEN_RE_MT = re.compile(
    _TOKEN_PATTERN.format(extra="[^\\W\\d_]{1,3}['’](?![^\\W_])|"), re.VERBOSE
)
# French/Italian/Irish/Maltese elision: "l'homme" -> "l'" "homme", "dell'anno" ->
# "dell'" "anno", "f'Malta" -> "f'" "Malta" (what spaCy's tokenizers do).
_ELISION_LANGS = frozenset({"fr", "it", "ga", "mt"})
_ELISION_RE = re.compile(r"^([^\W\d_]{1,6}['’])([^\W_].*)$")
# Maltese definite article, always written with a hyphen and ending in "l" or an
# assimilated consonant: il-, l-, tal-, fil-, għall-, iċ-, id-, in-, ir-, is-, it-, ix-, iż-.
_MT_ARTICLE_RE = re.compile(r"^([^\W\d_]{0,5}[lċdnrstxżz]-)([^\W_].*)$", re.IGNORECASE)


def tokenize(text: str, lang: str | None = None) -> list[str]:
    """Split text into word and punctuation tokens, with per-language clitic splits."""
    code = normalise_lang(lang)
    token_re = _TOKEN_RE_MT if code == "mt" else _TOKEN_RE
    tokens = [m.group(0) for m in token_re.finditer(text)]
    if code not in _ELISION_LANGS:
        return tokens
    out: list[str] = []
    for tok in tokens:
        while True:
            m = _ELISION_RE.match(tok) or (_MT_ARTICLE_RE.match(tok) if code == "mt" else None)
            if not m:
                break
            out.append(m.group(1))
            tok = m.group(2)
        out.append(tok)
    return out


def _is_symbol(token: str) -> bool:
    """True for a token made only of punctuation/symbols (no letter, digit or mark)."""
    return not any(unicodedata.category(ch)[0] in "LNM" for ch in token)


# --------------------------------------------------------------------------- line tests

# Gopher's bullet test (datatrove checks "•" and "-"); we also accept the other
# bullet glyphs HTML-to-text extraction produces for <li> items.
_BULLETS = ("•", "‣", "◦", "▪", "▫", "●", "○", "■", "□", "►", "▸", "-", "–", "*", "·")
_ELLIPSES = ("...", "…")
# C4's END_PUNCTUATION is . ? ! " '; EU typography closes quotations with ” “ » « ’ too
# (German „…“, French « … », Polish „…”), so those count as well. Greek writes its
# question mark as ";" (U+037E or the ASCII semicolon): accepted for "el" only.
_TERMINAL = (".", "!", "?", '"', "'", "”", "“", "»", "«", "’", "…")
_TERMINAL_EL = _TERMINAL + (";", "\u037e")
# Sentence ends for C4's sentence count (datatrove uses NLTK punkt; a punctuation
# run followed by whitespace or the end is a close, cheap approximation).
_SENTENCE_END_RE = re.compile(r"[.!?…]+[\"'”“»«’)\]]*(?=\s|$)")
_SENTENCE_END_RE_EL = re.compile(r"[.!?…;\u037e]+[\"'”“»«’)\]]*(?=\s|$)")
_LOREM_RE = re.compile(r"lorem ipsum", re.IGNORECASE)
# C4's POLICY_SUBSTRINGS (English), plus the same phrases in other EU languages:
# they mark cookie banners and legal boilerplate that C4 removes line by line.
_POLICY_PHRASES = (
    "terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies",
    "datenschutzerklärung", "verwendet cookies", "politique de confidentialité", "utilise des cookies",
    "política de privacidad", "utiliza cookies", "usa cookies", "informativa sulla privacy",
    "utilizza cookie", "privacybeleid", "gebruikt cookies", "polityka prywatności", "używa plików cookie",
    "política de privacidade", "utiliza cookies", "integritetspolicy", "använder cookies",
    "privatlivspolitik", "bruger cookies", "tietosuojaseloste", "käyttää evästeitä",
    "zásady ochrany osobních údajů", "používá cookies", "adatvédelmi", "sütiket használ",
)
# C4 drops lines holding a word longer than 1000 characters (c4_utils max_word_length).
_C4_MAX_WORD_LEN = 1000
# C4 keeps only lines of at least 3 words (c4_utils min_words_per_line).
_C4_MIN_WORDS_PER_LINE = 3
# FineWeb's short-line test: a line of at most 30 characters is short (datatrove default).
_FW_SHORT_LINE_CHARS = 30
# Repetition n-gram signals are computed on at most this many tokens: a bound for
# pathological documents (Gopher drops anything above 100,000 words anyway).
MAX_NGRAM_TOKENS = 200_000

_TOP_NS = (2, 3, 4)
_DUP_NS = (5, 6, 7, 8, 9, 10)


def _duplicates(items: list[str]) -> tuple[int, int]:
    """(number of repeated items, characters in repeated items); the first occurrence is not a repeat."""
    seen: set[str] = set()
    count = chars = 0
    for item in items:
        if item in seen:
            count += 1
            chars += len(item)
        else:
            seen.add(item)
    return count, chars


def _top_ngram_chars(words: list[str], n: int) -> int:
    """Characters covered by all occurrences of the most frequent n-gram."""
    if len(words) < n:
        return 0
    counts = Counter(zip(*(words[k:] for k in range(n))))
    # Ties are broken by first occurrence (Counter keeps insertion order), so the
    # result is deterministic; all tied n-grams have the same count anyway.
    gram, count = counts.most_common(1)[0]
    if count < 2:
        return 0  # a single occurrence is not repetition
    return count * sum(len(w) for w in gram)


def _dup_ngram_chars(words: list[str], n: int) -> int:
    """Characters of words that lie inside a repeated n-gram, each word counted once.

    Gopher's "duplicate n-gram character fraction": an n-gram occurrence counts
    when the same n-gram occurred earlier; overlapping repeats do not double count.
    (datatrove approximates this with a greedy skip; marking covered words is exact.)
    """
    if len(words) < n:
        return 0
    seen: set[tuple[str, ...]] = set()
    covered_until = 0  # words before this index are already counted
    chars = 0
    for i, gram in enumerate(zip(*(words[k:] for k in range(n)))):
        if gram in seen:
            for j in range(max(i, covered_until), i + n):
                chars += len(words[j])
            covered_until = i + n
        else:
            seen.add(gram)
    return chars


def compute_signals(text: str, lang: str | None) -> dict[str, float]:
    """Measure ``text`` for all quality rules; deterministic, never modifies the text.

    Keys (all floats; counts are whole numbers):

    * Gopher quality: ``words`` (non-symbol tokens), ``tokens`` (all tokens),
      ``mean_word_len``, ``hash_ratio`` and ``ellipsis_ratio`` (per token),
      ``bullet_lines_frac``, ``ellipsis_lines_frac``, ``alpha_words_frac``,
      ``stop_words`` (distinct stop words present; absent when ``lang`` has no list);
    * Gopher repetition: ``dup_line_frac``, ``dup_line_char_frac``, ``dup_para_frac``,
      ``dup_para_char_frac``, ``top_{2,3,4}_gram_char_frac``, ``dup_{5..10}_gram_char_frac``;
    * C4: ``c4_lines``, ``c4_terminal_punct_line_frac``, ``c4_kept_lines``,
      ``c4_kept_sentences``, ``c4_lorem_ipsum`` and ``c4_curly_bracket`` (0 or 1),
      ``c4_javascript_lines``, ``c4_policy_lines``;
    * FineWeb: ``fw_line_punct_ratio``, ``fw_short_line_ratio``, ``fw_char_dup_ratio``,
      ``fw_list_ratio``.
    """
    text = text or ""
    code = normalise_lang(lang)
    s: dict[str, float] = {}

    # --- Gopher quality ---
    tokens = tokenize(text, code)
    n_tokens = len(tokens)
    words = [t for t in tokens if not _is_symbol(t)]
    s["tokens"] = float(n_tokens)
    s["words"] = float(len(words))
    s["mean_word_len"] = sum(len(w) for w in words) / len(words) if words else 0.0
    # datatrove divides symbol counts by all tokens, punctuation included; so do we.
    s["hash_ratio"] = text.count("#") / n_tokens if n_tokens else 0.0
    s["ellipsis_ratio"] = (text.count("...") + text.count("…")) / n_tokens if n_tokens else 0.0
    raw_lines = text.splitlines()
    n_raw = len(raw_lines)
    s["bullet_lines_frac"] = (
        sum(line.lstrip().startswith(_BULLETS) for line in raw_lines) / n_raw if n_raw else 0.0
    )
    s["ellipsis_lines_frac"] = (
        sum(line.rstrip().endswith(_ELLIPSES) for line in raw_lines) / n_raw if n_raw else 0.0
    )
    s["alpha_words_frac"] = (
        sum(any(ch.isalpha() for ch in t) for t in tokens) / n_tokens if n_tokens else 0.0
    )
    stop = STOP_WORDS.get(code or "")
    if stop is not None:
        # datatrove compares case-sensitively ("The" misses "the"); we casefold.
        s["stop_words"] = float(len(stop.intersection(_stop_key(t) for t in words)))

    # --- Gopher repetition (paragraphs: blank-line separated; lines: newline separated) ---
    stripped = text.strip()
    paras = [p.strip() for p in re.split(r"\n\s*\n", stripped)] if stripped else []
    paras = [p for p in paras if p]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    n_chars = len(text)
    dup_p, dup_p_chars = _duplicates(paras)
    dup_l, dup_l_chars = _duplicates(lines)
    s["dup_para_frac"] = dup_p / len(paras) if paras else 0.0
    s["dup_para_char_frac"] = dup_p_chars / n_chars if n_chars else 0.0
    s["dup_line_frac"] = dup_l / len(lines) if lines else 0.0
    s["dup_line_char_frac"] = dup_l_chars / n_chars if n_chars else 0.0
    # Tokens are compared as written (not casefolded), as Gopher and datatrove do.
    ngram_tokens = tokens[:MAX_NGRAM_TOKENS]
    for n in _TOP_NS:
        s[f"top_{n}_gram_char_frac"] = _top_ngram_chars(ngram_tokens, n) / n_chars if n_chars else 0.0
    for n in _DUP_NS:
        s[f"dup_{n}_gram_char_frac"] = _dup_ngram_chars(ngram_tokens, n) / n_chars if n_chars else 0.0

    # --- C4 (line based; we count what C4 would keep instead of removing lines) ---
    terminal = _TERMINAL_EL if code == "el" else _TERMINAL
    sentence_end = _SENTENCE_END_RE_EL if code == "el" else _SENTENCE_END_RE
    c4_terminal = kept = sentences = js = policy = 0
    lorem = curly = 0
    for line in lines:
        ends = line.endswith(terminal) and not line.endswith(_ELLIPSES)
        c4_terminal += ends
        line_words = line.split()
        if any(len(w) > _C4_MAX_WORD_LEN for w in line_words):
            continue
        if not ends or len(line_words) < _C4_MIN_WORDS_PER_LINE:
            continue
        # C4 inspects lorem ipsum and "{" only on lines that survived the tests above.
        low = line.lower()
        if _LOREM_RE.search(line):
            lorem = 1
        if "javascript" in low:
            js += 1
            continue
        if "{" in line:
            curly = 1
        if any(p in low for p in _POLICY_PHRASES):
            policy += 1
            continue
        kept += 1
        sentences += max(1, len(sentence_end.findall(line)))
    s["c4_lines"] = float(len(lines))
    s["c4_terminal_punct_line_frac"] = c4_terminal / len(lines) if lines else 0.0
    s["c4_kept_lines"] = float(kept)
    s["c4_kept_sentences"] = float(sentences)
    s["c4_lorem_ipsum"] = float(lorem)
    s["c4_curly_bracket"] = float(curly)
    s["c4_javascript_lines"] = float(js)
    s["c4_policy_lines"] = float(policy)

    # --- FineWeb (non-blank lines as written; FineWeb does not strip them) ---
    fw_lines = [line for line in text.split("\n") if line.strip()]
    if fw_lines:
        s["fw_line_punct_ratio"] = sum(line.rstrip().endswith(terminal) for line in fw_lines) / len(fw_lines)
        s["fw_short_line_ratio"] = sum(len(line) <= _FW_SHORT_LINE_CHARS for line in fw_lines) / len(fw_lines)
        no_newline = len(text.replace("\n", ""))
        s["fw_char_dup_ratio"] = _duplicates(fw_lines)[1] / no_newline if no_newline else 0.0
    else:
        s["fw_line_punct_ratio"] = 0.0
        s["fw_short_line_ratio"] = 0.0
        s["fw_char_dup_ratio"] = 0.0
    s["fw_list_ratio"] = text.count("\n") / n_tokens if n_tokens else 0.0
    return s


# --------------------------------------------------------------------------- decision

def decide(signals: dict[str, float], lang: str | None, cfg: QualityConfig) -> str | None:
    """The first failing rule as ``"<filter>:<rule>"``, or ``None`` when all pass.

    Order is fixed and cheapest-to-compute first: Gopher quality (word-level
    counts), C4 and FineWeb (line-level), then Gopher repetition (n-grams). It may
    differ from FineWeb's pipeline order; that changes which reason is reported,
    never whether a document fails.
    """
    t = cfg.thresholds(lang)

    def above(key: str, limit: str) -> bool:
        lim = t[limit]
        return lim is not None and signals.get(key, 0.0) > lim

    def below(key: str, limit: str) -> bool:
        lim = t[limit]
        return lim is not None and key in signals and signals[key] < lim

    if cfg.gopher_quality:
        g = "gopher_quality:"
        if below("words", "gopher_min_words"):
            return g + "too_few_words"
        if above("words", "gopher_max_words"):
            return g + "too_many_words"
        if below("mean_word_len", "gopher_min_mean_word_len"):
            return g + "mean_word_len_low"
        if above("mean_word_len", "gopher_max_mean_word_len"):
            return g + "mean_word_len_high"
        if above("hash_ratio", "gopher_max_hash_ratio"):
            return g + "hash_ratio"
        if above("ellipsis_ratio", "gopher_max_ellipsis_ratio"):
            return g + "ellipsis_ratio"
        if above("bullet_lines_frac", "gopher_max_bullet_lines_frac"):
            return g + "bullet_lines"
        if above("ellipsis_lines_frac", "gopher_max_ellipsis_lines_frac"):
            return g + "ellipsis_lines"
        if below("alpha_words_frac", "gopher_min_alpha_words_frac"):
            return g + "alpha_words"
        # No stop-word list for this language: "stop_words" is absent and the rule is skipped.
        if below("stop_words", "gopher_min_stop_words"):
            return g + "stop_words"

    if cfg.c4:
        if cfg.c4_drop_lorem_ipsum and signals.get("c4_lorem_ipsum", 0.0) > 0:
            return "c4:lorem_ipsum"
        if cfg.c4_drop_curly_bracket and signals.get("c4_curly_bracket", 0.0) > 0:
            return "c4:curly_bracket"
        if below("c4_kept_sentences", "c4_min_sentences"):
            return "c4:too_few_sentences"

    if cfg.fineweb:
        if below("fw_line_punct_ratio", "fw_min_line_punct_ratio"):
            return "fineweb:line_punct_ratio"
        if above("fw_short_line_ratio", "fw_max_short_line_ratio"):
            return "fineweb:short_line_ratio"
        if above("fw_char_dup_ratio", "fw_max_char_dup_ratio"):
            return "fineweb:char_dup_ratio"
        if above("fw_list_ratio", "fw_max_list_ratio"):
            return "fineweb:list_ratio"

    if cfg.gopher_repetition:
        r = "gopher_repetition:"
        for key in ("dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac"):
            if above(key, "rep_max_" + key):
                return r + key
        for n in _TOP_NS:
            if above(f"top_{n}_gram_char_frac", f"rep_max_top_{n}_gram"):
                return r + f"top_{n}_gram"
        for n in _DUP_NS:
            if above(f"dup_{n}_gram_char_frac", f"rep_max_dup_{n}_gram"):
                return r + f"dup_{n}_gram"
    return None


def annotate(doc: Document, cfg: QualityConfig) -> Document:
    """Set ``doc.quality`` to the signals and ``doc.drop_reason`` to :func:`decide`'s verdict.

    Nothing is removed and the text is unchanged: whether a reason drops a document is
    decided later, per campaign and per pool. A drop reason set by an earlier stage (for
    example language identification) is kept; a reason from this module is replaced, so
    annotating again with another config is idempotent.
    """
    signals = compute_signals(doc.text or "", doc.lang)
    doc.quality = signals
    reason = decide(signals, doc.lang, cfg)
    if doc.drop_reason is None or doc.drop_reason.startswith(REASON_PREFIXES):
        doc.drop_reason = reason
    return doc
