"""TDMRep and robots "noai" signals of a fetched page.

Our crawler decided them at fetch time (tdmrep.json, headers, meta; see
:mod:`owd.core.tdm`) and wrote the verdict into the fetch's metadata record; that
verdict is used as is. A foreign WARC has no such record: the signals the
record itself carries (the ``tdm-*`` and ``X-Robots-Tag`` headers, the head's
metas) are evaluated with the crawler's own rules; a site's tdmrep.json is not
in the record, so it cannot count there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from owd.core.tdm import HEAD_SCAN_BYTES, declaration_from_headers, robots_directives, scan_html_head, tdm_verdict

__all__ = ["RightsSignals", "rights_signals"]


@dataclass(frozen=True)
class RightsSignals:
    tdm_reservation: bool | None
    tdm_policy: str | None
    tdm_source: str | None
    robots_noai: bool | None
    robots_noimageai: bool | None


def _opt_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def rights_signals(crawl_meta: dict[str, Any], http_headers: Iterable[tuple[str, str]], body: bytes,
                   stats: Counter[str]) -> RightsSignals:
    """The crawl's verdict when its metadata has one, else the record's own signals."""
    tdm = crawl_meta.get("tdm")
    if isinstance(tdm, dict):
        stats["extract/rights/from_crawl"] += 1
        return RightsSignals(_opt_bool(tdm.get("reservation")), _opt_str(tdm.get("policy")),
                             _opt_str(tdm.get("source")), _opt_bool(tdm.get("noai")),
                             _opt_bool(tdm.get("noimageai")))
    headers = list(http_headers)
    head = scan_html_head(body[:HEAD_SCAN_BYTES])
    directives = set(head.robots) | robots_directives(v for n, v in headers if n.lower() == "x-robots-tag")
    verdict = tdm_verdict(header=declaration_from_headers(headers), meta=head.declaration, directives=directives)
    stats["extract/rights/from_record"] += 1
    return RightsSignals(verdict.reservation, verdict.policy, verdict.source, verdict.noai, verdict.noimageai)
