"""Focused crawling: how relevant a link looks to the curator's topics.

A link's score mixes its anchor text, its URL and its parent page's score, so
on-topic neighbourhoods are explored first. With no topics every score is 0 and
the crawl stays breadth-first.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote

from owd.core.config import FocusConfig

__all__ = ["TopicScorer"]

# Weights of the three pieces of evidence; the anchor is the strongest signal
# of what the target page is about, the parent page the weakest.
ANCHOR_WEIGHT, URL_WEIGHT, PARENT_WEIGHT = 0.5, 0.3, 0.2


def _fold(text: str) -> str:
    """Lowercase and strip accents, so 'Gesundheit' matches 'gesundheit' and 'santé' 'sante'."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass
class TopicScorer:
    patterns: list[re.Pattern[str]]
    weight: float

    @classmethod
    def from_config(cls, focus: FocusConfig) -> "TopicScorer":
        words = sorted({_fold(w) for t in focus.topics for ws in t.keywords.values() for w in ws if w.strip()})
        patterns = [re.compile(r"(?<!\w)" + re.escape(w)) for w in words]
        return cls(patterns, focus.weight if patterns else 0.0)

    @property
    def enabled(self) -> bool:
        return bool(self.patterns) and self.weight > 0

    def text_score(self, text: str) -> float:
        """1.0 when a keyword occurs, with a small bonus for several distinct ones; 0 without."""
        if not self.patterns or not text:
            return 0.0
        folded = _fold(text)
        hits = sum(1 for p in self.patterns if p.search(folded))
        return min(1.0, 0.7 + 0.1 * hits) if hits else 0.0

    def link_score(self, anchor: str, url: str, parent_score: float) -> float:
        url_words = re.sub(r"[/_.\-?=&]+", " ", unquote(url.split("://", 1)[-1].split("/", 1)[-1]))
        return (ANCHOR_WEIGHT * self.text_score(anchor) + URL_WEIGHT * self.text_score(url_words)
                + PARENT_WEIGHT * parent_score)

    def priority(self, depth: int, score: float) -> int:
        """Scrapy request priority: breadth-first by depth, lifted by relevance."""
        return int(round(self.weight * score * 100)) - depth
