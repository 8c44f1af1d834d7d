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
from bisect import bisect_right
from collections import Counter
from itertools import accumulate, chain, compress, repeat
from operator import add, mul, ne, not_
from typing import Iterable

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


_MATCH_TEXT = re.Match.group  # called with only the match: the whole match, mapped in C


def tokenize(text: str, lang: str | None = None) -> list[str]:
    """Split text into word and punctuation tokens, with per-language clitic splits."""
    code = normalise_lang(lang)
    finditer = (_TOKEN_RE_MT if code == "mt" else _TOKEN_RE).finditer
    # No token holds whitespace and no pattern looks across it (the Maltese lookahead
    # sees the same "no letter" at a chunk's end), so the text is tokenised chunk by
    # chunk, which lets most chunks skip the regex: a chunk of letters and digits only
    # is one token (every alphanumeric character is a [^\W_] of the word pattern), and
    # one with a single mark after it ("end." "say,") is that word and that mark, unless
    # the mark is a Maltese word-final apostrophe (ta').
    maltese = code == "mt"
    tokens: list[str] = []
    append, extend = tokens.append, tokens.extend
    for chunk in text.split():
        if chunk.isalnum():
            append(chunk)
        elif chunk[:-1].isalnum() and not (maltese and chunk[-1] in "'’"):
            append(chunk[:-1])
            append(chunk[-1])
        else:
            extend(map(_MATCH_TEXT, finditer(chunk)))
    if code in _ELISION_LANGS:
        return _split_clitics(tokens, maltese)
    return tokens


def _split_clitics(tokens: list[str], maltese: bool) -> list[str]:
    """``tokens`` with elided articles and Maltese articles split off ("l'homme" -> "l'" "homme").

    Only a token holding an apostrophe (or, in Maltese, a hyphen) can split, so each
    distinct such token is split once and the list is rebuilt only when one did.
    """
    marks = ("'", "’", "-") if maltese else ("'", "’")
    splits: dict[str, tuple[str, ...]] = {}
    for word in set(tokens):
        if not any(mark in word for mark in marks):
            continue
        parts: list[str] = []
        tok = word
        while True:
            m = _ELISION_RE.match(tok) or (_MT_ARTICLE_RE.match(tok) if maltese else None)
            if not m:
                break
            parts.append(m.group(1))
            tok = m.group(2)
        if parts:
            splits[word] = (*parts, tok)
    if not splits:
        return tokens
    table: dict[str, tuple[str, ...]] = {tok: (tok,) for tok in tokens}
    table.update(splits)
    return list(chain.from_iterable(map(table.__getitem__, tokens)))


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
# The phrases by the start of their last word: one search for that start in a text
# rules out all the phrases that share it (13 searches instead of 30 in most texts).
def _by_last_word_start(phrases: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for phrase in phrases:
        key = phrase.split()[-1][:5]
        out[key] = (*out.get(key, ()), phrase)
    return out


_POLICY_BY_KEY = _by_last_word_start(_POLICY_PHRASES)
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
# Line breaks of str.splitlines() other than "\n". Without them (nearly every text),
# splitlines() and FineWeb's split("\n") give the same non-blank lines, so one loop
# serves Gopher, C4 and FineWeb.
_OTHER_BREAKS_RE = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_PARAGRAPH_BREAK_RE = re.compile(r"\n\s*\n")
# A token is a stop word when its casefold() is one, with either apostrophe (_stop_key):
# each spelling -> the stop word, so a whole set of tokens is looked up at once.
_STOP_VARIANTS = {lang: {variant: word for word in words for variant in {word, word.replace("'", "’")}}
                  for lang, words in STOP_WORDS.items()}
# Symbol tokens are runs of one character, so whether one is a symbol depends on its
# first character; the answers are kept (there are few distinct punctuation characters).
_SYMBOL_CHAR: dict[str, bool] = {}


def _symbol_char(ch: str) -> bool:
    found = _SYMBOL_CHAR.get(ch)
    if found is None:
        found = _SYMBOL_CHAR[ch] = unicodedata.category(ch)[0] not in "LNM"
    return found


def _word_counts(tokens: list[str], counts: Counter[str], lang: str | None) -> tuple[int, int, int, int | None]:
    """(words, characters in words, tokens with a letter, distinct stop words or None when
    ``lang`` has no list), from the count of each distinct token: each is classified once.

    A token of letters only (most) is a word with a letter. Otherwise a token starting
    with a letter or digit (str.isalnum: the regex's word characters but "_", all of
    Unicode category L or N) is a word or number, never a symbol; any other token is a
    run of one character (or of "_"), a symbol unless it is a mark.
    """
    distinct = list(counts)
    letters_only = list(map(str.isalpha, distinct))
    alpha = sum(compress(counts.values(), letters_only))
    symbols = symbol_chars = 0
    symbol_set: set[str] = set()
    for tok in compress(distinct, map(not_, letters_only)):
        if tok[0].isalnum():
            if not tok.isdigit() and any(ch.isalpha() for ch in tok):
                alpha += counts[tok]
        elif _symbol_char(tok[0]):
            n = counts[tok]
            symbols += n
            symbol_chars += n * len(tok)
            symbol_set.add(tok)
        # else: a run of a combining mark, a word without a letter
    stop = _STOP_VARIANTS.get(lang or "")
    found = None
    if stop is not None:
        # datatrove compares case-sensitively ("The" misses "the"); we casefold.
        words = counts.keys() - symbol_set if symbol_set else counts.keys()
        found = len({stop[key] for key in stop.keys() & set(map(str.casefold, words))})
    return len(tokens) - symbols, sum(map(len, tokens)) - symbol_chars, alpha, found


def _repetition(tokens: list[str], counts: Counter[str]) -> tuple[list[int], list[int]]:
    """Characters of the most frequent 2-, 3- and 4-gram (all its occurrences, 0 when no
    n-gram repeats) and characters in repeated 5- to 10-grams, as Gopher defines them.

    The n-grams are not built as tuples of strings. Each distinct token gets a number; an
    n-gram is (number of its (n-1)-gram, number of its last token). An n-gram can only
    occur twice where its (n-1)-gram does, so each longer n only looks at the positions
    whose shorter n-gram repeats: usually a small part of the text.

    Top n-gram: the most frequent, ties going to the one seen first (Counter keeps the
    first-seen order, max() returns the first maximum). Duplicate n-grams: an occurrence
    after the first covers its words, each word counted once (marking covered words is
    exact; datatrove approximates this with a greedy skip).
    """
    top = [0] * len(_TOP_NS)
    dup = [0] * len(_DUP_NS)
    n_tok = len(tokens)
    if n_tok < 2:
        return top, dup
    base = len(counts)  # token numbers are below it, so gram * base + token is unique
    ids = list(map(dict(zip(counts, range(base))).__getitem__, tokens))
    ends: list[int] = []  # characters before each position, made when first needed
    # Every step below maps or filters whole lists in C; no Python loop runs per token.
    pos: Iterable[int] = range(n_tok - 1)
    keys = list(map(add, map(mul, ids, repeat(base)), ids[1:]))
    n = 2
    while True:
        grams = Counter(keys)
        several = list(map((1).__lt__, map(grams.__getitem__, keys)))
        rep_pos = list(compress(pos, several))  # where the n-gram occurs more than once
        if not rep_pos:
            break  # every n-gram is unique, and so is every longer one
        rep_keys = list(compress(keys, several))
        first = dict(zip(reversed(rep_keys), reversed(rep_pos)))  # n-gram -> its first position
        if n <= _TOP_NS[-1]:
            count = max(grams.values())
            best = next(compress(grams, map(count.__eq__, grams.values())))  # the first seen
            top[n - _TOP_NS[0]] = count * sum(map(len, tokens[first[best]:first[best] + n]))
        else:
            # The later occurrences, and the characters of the union of their n-word spans
            # (sorted spans of one length: each starts at its own start or at the end of
            # the one before, whichever is later).
            later = list(compress(rep_pos, map(ne, map(first.__getitem__, rep_keys), rep_pos)))
            if not ends:
                ends = list(accumulate(map(len, tokens), initial=0))
            span_ends = list(map(add, later, repeat(n)))
            starts = map(max, later, chain((0,), span_ends))
            dup[n - _DUP_NS[0]] = sum(map(ends.__getitem__, span_ends)) - sum(map(ends.__getitem__, starts))
        if n == _DUP_NS[-1]:
            break
        # The (n+1)-grams at the positions whose n-gram repeats and that have a next token;
        # an n-gram is numbered by its first position (below n_tok, so numbers stay small).
        cut = bisect_right(rep_pos, n_tok - 1 - n)
        pos = rep_pos[:cut]
        keys = list(map(add, map(mul, map(first.__getitem__, rep_keys[:cut]), repeat(base)),
                        map(ids.__getitem__, map(add, pos, repeat(n)))))
        n += 1
    return top, dup


def _duplicates(items: list[str]) -> tuple[int, int]:
    """(number of repeated items, characters in repeated items); the first occurrence is not a repeat."""
    distinct = set(items)
    return len(items) - len(distinct), sum(map(len, items)) - sum(map(len, distinct))


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

    One tokenisation and one count of the distinct tokens give every word-level signal;
    one loop over the lines gives the line-level ones of all three filters.
    """
    text = text or ""
    code = normalise_lang(lang)
    n_chars = len(text)

    # --- words: one tokenisation, each distinct token classified once ---
    tokens = tokenize(text, code)
    n_tokens = len(tokens)
    counts = Counter(tokens)
    n_words, word_chars, n_alpha, n_stop = _word_counts(tokens, counts, code)
    # Tokens are compared as written (not casefolded), as Gopher and datatrove do.
    ngram_tokens = tokens if n_tokens <= MAX_NGRAM_TOKENS else tokens[:MAX_NGRAM_TOKENS]
    top, dup = _repetition(ngram_tokens, counts if ngram_tokens is tokens else Counter(ngram_tokens))

    # --- lines: one loop for Gopher, C4 and FineWeb ---
    terminal = _TERMINAL_EL if code == "el" else _TERMINAL
    sentence_end = _SENTENCE_END_RE_EL if code == "el" else _SENTENCE_END_RE
    raw_lines = text.splitlines()
    one_break = _OTHER_BREAKS_RE.search(text) is None  # FineWeb's lines are the same lines
    # What the C4 tests look for, searched once in the whole text: a line can only hold
    # what the text holds (lower() is per character except for sigma, in no phrase here).
    low_text = text.lower()
    find_lorem = _LOREM_RE.search(text) is not None
    find_js = "javascript" in low_text
    find_curly = "{" in text
    policy_phrases = tuple(p for key, phrases in _POLICY_BY_KEY.items() if key in low_text
                           for p in phrases if p in low_text)
    lines: list[str] = []  # non-blank lines, stripped (Gopher repetition, C4)
    fw_lines: list[str] = []  # non-blank lines as written (FineWeb)
    bullets = ellipsis_lines = punct_lines = short_lines = 0
    c4_terminal = kept = sentences = js = policy = lorem = curly = 0
    for raw in raw_lines:
        line = raw.strip()
        if not line:
            continue
        lines.append(line)
        fw_lines.append(raw)
        if line.startswith(_BULLETS):
            bullets += 1
        # strip() and rstrip() end alike and lstrip() and strip() start alike on a
        # non-blank line, so these tests on `line` are those on the raw line.
        ellipsis = line.endswith(_ELLIPSES)
        ellipsis_lines += ellipsis
        ends = line.endswith(terminal)
        punct_lines += ends
        short_lines += len(raw) <= _FW_SHORT_LINE_CHARS
        # --- C4: count what C4 would keep instead of removing lines ---
        if not ends or ellipsis:
            continue
        c4_terminal += 1
        if len(line) > _C4_MAX_WORD_LEN and any(len(w) > _C4_MAX_WORD_LEN for w in line.split()):
            continue
        if len(line.split(None, _C4_MIN_WORDS_PER_LINE - 1)) < _C4_MIN_WORDS_PER_LINE:
            continue
        # C4 inspects lorem ipsum and "{" only on lines that survived the tests above.
        if find_lorem and _LOREM_RE.search(line):
            lorem = 1
        if find_js or policy_phrases:
            low = line.lower()
            if find_js and "javascript" in low:
                js += 1
                continue
            if find_curly and "{" in line:
                curly = 1
            if policy_phrases and any(p in low for p in policy_phrases):
                policy += 1
                continue
        elif find_curly and "{" in line:
            curly = 1
        kept += 1
        sentences += max(1, len(sentence_end.findall(line)))
    n_raw = len(raw_lines)
    n_lines = len(lines)
    if not one_break:  # FineWeb splits at "\n" only
        fw_lines = [line for line in text.split("\n") if line.strip()]
        punct_lines = sum(line.rstrip().endswith(terminal) for line in fw_lines)
        short_lines = sum(len(line) <= _FW_SHORT_LINE_CHARS for line in fw_lines)

    # --- Gopher repetition (paragraphs: blank-line separated; lines: newline separated) ---
    stripped = text.strip()
    paras = list(filter(None, map(str.strip, _PARAGRAPH_BREAK_RE.split(stripped)))) if stripped else []
    dup_p, dup_p_chars = _duplicates(paras)
    dup_l, dup_l_chars = _duplicates(lines)

    # The keys in the order they have always had (the schema stores them as a list).
    s: dict[str, float] = {
        "tokens": float(n_tokens),
        "words": float(n_words),
        "mean_word_len": word_chars / n_words if n_words else 0.0,
        # datatrove divides symbol counts by all tokens, punctuation included; so do we.
        "hash_ratio": text.count("#") / n_tokens if n_tokens else 0.0,
        "ellipsis_ratio": (text.count("...") + text.count("…")) / n_tokens if n_tokens else 0.0,
        "bullet_lines_frac": bullets / n_raw if n_raw else 0.0,
        "ellipsis_lines_frac": ellipsis_lines / n_raw if n_raw else 0.0,
        "alpha_words_frac": n_alpha / n_tokens if n_tokens else 0.0,
    }
    if n_stop is not None:
        s["stop_words"] = float(n_stop)
    s["dup_para_frac"] = dup_p / len(paras) if paras else 0.0
    s["dup_para_char_frac"] = dup_p_chars / n_chars if n_chars else 0.0
    s["dup_line_frac"] = dup_l / n_lines if n_lines else 0.0
    s["dup_line_char_frac"] = dup_l_chars / n_chars if n_chars else 0.0
    for n, chars in zip(_TOP_NS, top):
        s[f"top_{n}_gram_char_frac"] = chars / n_chars if n_chars else 0.0
    for n, chars in zip(_DUP_NS, dup):
        s[f"dup_{n}_gram_char_frac"] = chars / n_chars if n_chars else 0.0
    s["c4_lines"] = float(n_lines)
    s["c4_terminal_punct_line_frac"] = c4_terminal / n_lines if n_lines else 0.0
    s["c4_kept_lines"] = float(kept)
    s["c4_kept_sentences"] = float(sentences)
    s["c4_lorem_ipsum"] = float(lorem)
    s["c4_curly_bracket"] = float(curly)
    s["c4_javascript_lines"] = float(js)
    s["c4_policy_lines"] = float(policy)
    # --- FineWeb (non-blank lines as written; FineWeb does not strip them) ---
    if fw_lines:
        s["fw_line_punct_ratio"] = punct_lines / len(fw_lines)
        s["fw_short_line_ratio"] = short_lines / len(fw_lines)
        no_newline = n_chars - text.count("\n")
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
    # cfg.thresholds(lang) without building the whole table for every document: the
    # language's override, else the field.
    overrides = cfg.per_language.get(normalise_lang(lang) or "", {})

    def limit_of(name: str) -> float | None:
        return overrides[name] if name in overrides else getattr(cfg, name)

    def above(key: str, limit: str) -> bool:
        lim = limit_of(limit)
        return lim is not None and signals.get(key, 0.0) > lim

    def below(key: str, limit: str) -> bool:
        lim = limit_of(limit)
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
