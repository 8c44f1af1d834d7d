"""Quality heuristics for documents: Gopher quality and repetition, C4, FineWeb.

Three steps, kept apart so that filtering stays a separate, configurable decision:

* :func:`compute_signals` measures a text (word counts, symbol ratios, duplicate
  lines and n-grams, C4 and FineWeb line statistics) into a flat ``dict[str, float]``;
* :func:`decide` applies a :class:`QualityConfig` to those signals and returns the
  first failing rule as ``"<filter>:<rule>"`` (or ``None``);
* :func:`annotate` stores both on a :class:`~owd.schema.Document` and removes nothing.

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

import dataclasses
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from owd.schema import Document

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

# The 24 official EU languages; langid may hand us ISO 639-3 or GlotLID/FLORES-style
# labels ("deu_Latn"), so map those onto the ISO 639-1 code used everywhere else.
EU_LANGS = (
    "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr",
    "hu", "it", "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv",
)
_ISO3 = {
    "bul": "bg", "ces": "cs", "cze": "cs", "dan": "da", "deu": "de", "ger": "de", "ell": "el",
    "gre": "el", "eng": "en", "spa": "es", "est": "et", "ekk": "et", "fin": "fi", "fra": "fr",
    "fre": "fr", "gle": "ga", "hrv": "hr", "hun": "hu", "ita": "it", "lit": "lt", "lav": "lv",
    "lvs": "lv", "mlt": "mt", "nld": "nl", "dut": "nl", "pol": "pl", "por": "pt", "ron": "ro",
    "rum": "ro", "slk": "sk", "slo": "sk", "slv": "sl", "swe": "sv",
}


def normalise_lang(lang: str | None) -> str | None:
    """``"de"``, ``"DE"``, ``"de-AT"``, ``"deu"`` and ``"deu_Latn"`` all give ``"de"``."""
    if not lang:
        return None
    base = re.split(r"[-_]", lang.strip().lower(), maxsplit=1)[0]
    return _ISO3.get(base, base) or None


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


# --------------------------------------------------------------------------- config

# FineWeb-2 per-language thresholds, from the FineWeb-2 repository's
# configs/<lang>_<script>.yml (values as published; Estonian is ekk_Latn and Latvian
# lvs_Latn there). FineWeb-2 derived each from statistics of reference data in that
# language; English has no entry and keeps the FineWeb (English) defaults.
# Columns: min/max mean word length, min alpha-word fraction, min line-punctuation
# ratio, max list (newline/word) ratio, max duplicate-line fraction,
# top 2/3/4-gram char fractions, duplicate 5..10-gram char fractions.
_FW2: dict[str, tuple[float, ...]] = {
    #     minwl maxwl alpha  lpunct list   dupln  top2   top3   top4   dup5   dup6   dup7   dup8   dup9   dup10
    "bg": (3, 9, 0.756, 0.273, 0.180, 0.350, 0.086, 0.109, 0.127, 0.205, 0.185, 0.165, 0.149, 0.136, 0.126),
    "cs": (3, 11, 0.781, 0.125, 0.233, 0.333, 0.095, 0.121, 0.144, 0.193, 0.175, 0.157, 0.144, 0.132, 0.121),
    "da": (3, 11, 0.798, 0.100, 0.182, 0.305, 0.367, 0.297, 0.232, 0.169, 0.158, 0.147, 0.134, 0.123, 0.112),
    "de": (0, 15, 0.774, 0.000, 0.152, 0.263, 0.169, 0.153, 0.137, 0.141, 0.134, 0.126, 0.117, 0.108, 0.098),
    "el": (3, 11, 0.809, 0.167, 0.116, 0.310, 0.194, 0.175, 0.156, 0.174, 0.163, 0.153, 0.142, 0.130, 0.119),
    "es": (4, 14, 0.825, 0.300, 0.171, 0.265, 0.077, 0.097, 0.112, 0.152, 0.137, 0.123, 0.114, 0.107, 0.099),
    "et": (3, 13, 0.722, 0.143, 0.213, 0.363, 0.345, 0.268, 0.215, 0.172, 0.161, 0.150, 0.139, 0.125, 0.113),
    "fi": (4, 13, 0.755, 0.250, 0.219, 0.333, 0.101, 0.132, 0.163, 0.171, 0.149, 0.131, 0.119, 0.106, 0.094),
    "fr": (2, 11, 0.812, 0.100, 0.185, 0.264, 0.161, 0.149, 0.134, 0.150, 0.141, 0.131, 0.121, 0.111, 0.100),
    "ga": (2, 11, 0.816, 0.000, 0.214, 0.395, 0.533, 0.421, 0.379, 0.203, 0.181, 0.181, 0.155, 0.145, 0.132),
    "hr": (3, 11, 0.751, 0.200, 0.260, 0.333, 0.097, 0.122, 0.147, 0.208, 0.188, 0.171, 0.157, 0.145, 0.134),
    "hu": (3, 15, 0.766, 0.067, 0.231, 0.322, 0.226, 0.198, 0.172, 0.169, 0.159, 0.148, 0.136, 0.124, 0.112),
    "it": (3, 21, 0.807, 0.025, 0.200, 0.246, 0.198, 0.156, 0.133, 0.144, 0.136, 0.127, 0.118, 0.109, 0.100),
    "lt": (3, 11, 0.688, 0.273, 0.250, 0.353, 0.098, 0.126, 0.152, 0.213, 0.190, 0.173, 0.159, 0.147, 0.136),
    "lv": (3, 13, 0.727, 0.200, 0.222, 0.364, 0.147, 0.162, 0.178, 0.199, 0.177, 0.157, 0.142, 0.124, 0.110),
    "mt": (4, 12, 0.823, 0.200, 0.207, 0.458, 0.533, 0.607, 0.596, 0.267, 0.232, 0.207, 0.189, 0.171, 0.149),
    "nl": (3, 16, 0.828, 0.238, 0.194, 0.333, 0.093, 0.117, 0.140, 0.177, 0.160, 0.145, 0.133, 0.123, 0.112),
    "pl": (3, 11, 0.726, 0.200, 0.209, 0.353, 0.096, 0.120, 0.144, 0.203, 0.182, 0.163, 0.150, 0.137, 0.126),
    "pt": (3, 13, 0.814, 0.154, 0.230, 0.325, 0.093, 0.117, 0.139, 0.190, 0.172, 0.154, 0.142, 0.131, 0.120),
    "ro": (1, 14, 0.779, 0.081, 0.207, 0.289, 0.161, 0.146, 0.131, 0.160, 0.149, 0.138, 0.127, 0.117, 0.106),
    "sk": (2, 11, 0.752, 0.000, 0.214, 0.319, 0.316, 0.218, 0.171, 0.176, 0.165, 0.152, 0.140, 0.127, 0.115),
    "sl": (2, 12, 0.781, 0.045, 0.273, 0.317, 0.262, 0.225, 0.189, 0.170, 0.158, 0.146, 0.135, 0.123, 0.111),
    "sv": (3, 12, 0.841, 0.200, 0.135, 0.292, 0.242, 0.195, 0.174, 0.156, 0.147, 0.136, 0.125, 0.116, 0.105),
}
_FW2_FIELDS = (
    "gopher_min_mean_word_len", "gopher_max_mean_word_len", "gopher_min_alpha_words_frac",
    "fw_min_line_punct_ratio", "fw_max_list_ratio", "rep_max_dup_line_frac",
    "rep_max_top_2_gram", "rep_max_top_3_gram", "rep_max_top_4_gram",
    "rep_max_dup_5_gram", "rep_max_dup_6_gram", "rep_max_dup_7_gram",
    "rep_max_dup_8_gram", "rep_max_dup_9_gram", "rep_max_dup_10_gram",
)
# Where we depart from the FineWeb-2 table above, and why:
_OUR_ADJUSTMENTS: dict[str, dict[str, float]] = {
    # FineWeb-2 publishes 21 for Italian, far above any other EU language (de/hu use 15
    # for their long compounds). Italian forms no long compounds; a mean word length
    # above 15 only happens in URL lists, identifiers or base64, so we cap it at 15.
    "it": {"gopher_max_mean_word_len": 15},
}


def _default_per_language() -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for lang, values in _FW2.items():
        overrides = {name: float(v) for name, v in zip(_FW2_FIELDS, values, strict=True)}
        # FineWeb-2 raised FineWeb's duplicated-line character ratio from 0.01 to 0.1
        # for every language ("we changed this from 0.01 in fineweb english").
        overrides["fw_max_char_dup_ratio"] = 0.1
        overrides.update(_OUR_ADJUSTMENTS.get(lang, {}))
        out[lang] = overrides
    return out


@dataclass
class QualityConfig:
    """Which heuristic filters apply, their thresholds, and per-language overrides.

    A threshold set to ``None`` switches that one rule off. ``per_language`` maps a
    language code to ``{threshold field: value}``; its default holds FineWeb-2's
    per-language values (see ``_FW2``). Setting ``per_language`` in a config replaces
    the whole default mapping, so start from ``QualityConfig().per_language`` to amend it.
    """

    gopher_quality: bool = True
    gopher_repetition: bool = True
    c4: bool = True
    fineweb: bool = True

    # Gopher quality (Rae et al. 2021, A.1.1; datatrove GopherQualityFilter defaults).
    gopher_min_words: float | None = 50  # "fewer than 50 ... words"
    gopher_max_words: float | None = 100_000  # "... or more than 100,000 words"
    gopher_min_mean_word_len: float | None = 3  # "mean word length outside 3 to 10 characters"
    gopher_max_mean_word_len: float | None = 10
    gopher_max_hash_ratio: float | None = 0.1  # "symbol-to-word ratio greater than 0.1" for #
    gopher_max_ellipsis_ratio: float | None = 0.1  # ... and for the ellipsis
    gopher_max_bullet_lines_frac: float | None = 0.9  # "more than 90% of lines starting with a bullet"
    gopher_max_ellipsis_lines_frac: float | None = 0.3  # "more than 30% ending with an ellipsis"
    gopher_min_alpha_words_frac: float | None = 0.8  # "80% of words ... at least one alphabetic character"
    gopher_min_stop_words: float | None = 2  # "at least two of the following English stop words"

    # Gopher repetition (Rae et al. 2021, Table A1; datatrove GopherRepetitionFilter defaults).
    rep_max_dup_line_frac: float | None = 0.30
    rep_max_dup_para_frac: float | None = 0.30
    rep_max_dup_line_char_frac: float | None = 0.20
    rep_max_dup_para_char_frac: float | None = 0.20
    rep_max_top_2_gram: float | None = 0.20
    rep_max_top_3_gram: float | None = 0.18
    rep_max_top_4_gram: float | None = 0.16
    rep_max_dup_5_gram: float | None = 0.15
    rep_max_dup_6_gram: float | None = 0.14
    rep_max_dup_7_gram: float | None = 0.13
    rep_max_dup_8_gram: float | None = 0.12
    rep_max_dup_9_gram: float | None = 0.11
    rep_max_dup_10_gram: float | None = 0.10

    # C4 (Raffel et al. 2020, 2.2; datatrove C4QualityFilter): the document-level rules.
    c4_min_sentences: float | None = 5  # "discarded any page with fewer than 5 sentences"
    c4_drop_lorem_ipsum: bool = True  # "removed any page where the phrase 'lorem ipsum' appeared"
    c4_drop_curly_bracket: bool = True  # "removed any pages that contained a curly bracket"

    # FineWeb (Penedo et al. 2024; datatrove FineWebQualityFilter defaults).
    fw_min_line_punct_ratio: float | None = 0.12  # lines ending in punctuation
    fw_max_short_line_ratio: float | None = 0.67  # lines of <= 30 characters
    fw_max_char_dup_ratio: float | None = 0.01  # characters in duplicated lines
    fw_max_list_ratio: float | None = 0.3  # newlines per word

    per_language: dict[str, dict[str, float]] = field(default_factory=_default_per_language)

    def check(self) -> None:
        """Raise ``ValueError("field: problem")`` for a threshold out of range or an unknown override."""
        names = _threshold_names()
        for name in names:
            _check_value(name, getattr(self, name))
        for key in ("words", "mean_word_len"):
            lo, hi = getattr(self, f"gopher_min_{key}"), getattr(self, f"gopher_max_{key}")
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"gopher_min_{key}: {lo} is above gopher_max_{key} {hi}")
        for lang, overrides in self.per_language.items():
            if normalise_lang(lang) != lang:
                raise ValueError(f"per_language.{lang}: use a lower-case ISO 639-1 code such as 'de'")
            for name, value in overrides.items():
                if name not in names:
                    raise ValueError(
                        f"per_language.{lang}.{name}: unknown threshold (known: {', '.join(sorted(names))})"
                    )
                _check_value(f"per_language.{lang}.{name}", value)

    def thresholds(self, lang: str | None) -> dict[str, float | None]:
        """The effective thresholds for ``lang``: the fields, then its overrides."""
        out: dict[str, float | None] = {name: getattr(self, name) for name in _threshold_names()}
        out.update(self.per_language.get(normalise_lang(lang) or "", {}))
        return out


# The four filters (the switches of QualityConfig, the prefixes of their drop reasons)
# and the field-name prefix of each one's thresholds.
FILTERS = ("gopher_quality", "gopher_repetition", "c4", "fineweb")
_FILTER_THRESHOLDS = {"gopher_quality": "gopher_m", "gopher_repetition": "rep_", "c4": "c4_min", "fineweb": "fw_"}


def active_filters(cfg: QualityConfig) -> list[str]:
    """The filters of :data:`FILTERS` that can drop a document under ``cfg``.

    A switched-on filter whose every rule is off (thresholds ``None`` for every
    language, C4's two drop switches false) drops nothing, so it is not active:
    the data cards must not claim it was applied.
    """
    names = _threshold_names()
    active = []
    for name in FILTERS:
        if not getattr(cfg, name):
            continue
        rules = [n for n in names if n.startswith(_FILTER_THRESHOLDS[name])]
        live = any(getattr(cfg, n) is not None for n in rules) or any(
            overrides.get(n) is not None for overrides in cfg.per_language.values() for n in rules)
        if name == "c4":
            live = live or cfg.c4_drop_lorem_ipsum or cfg.c4_drop_curly_bracket
        if live:
            active.append(name)
    return active


def _threshold_names() -> frozenset[str]:
    return frozenset(
        f.name for f in dataclasses.fields(QualityConfig) if f.name.startswith(("gopher_m", "rep_", "c4_min", "fw_"))
    )


def _check_value(name: str, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    if value < 0:
        raise ValueError(f"{name}: must not be negative, got {value}")
    is_fraction = ("frac" in name or "ratio" in name or "_gram" in name)
    if is_fraction and value > 1 and not name.startswith("fw_max_list"):
        # A fraction above 1 can never fail a max rule (or always fail a min rule):
        # almost certainly a percentage typed by mistake.
        raise ValueError(f"{name}: is a fraction between 0 and 1, got {value}")


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
