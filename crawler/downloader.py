"""Scrapy's downloader with the per-host delay measured from when a download starts.

Scrapy stamps a slot's ``lastseen`` when it takes a request off the slot queue;
the coroutine that actually sends it may start a few hundred milliseconds later
when the reactor is busy parsing a large page, so on the wire two requests to
one host could leave almost together (measured on the test web: 0.0 s apart with
a 0.2 s delay). Stamping again when the download starts makes the delay hold
between actual starts.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from scrapy.core.downloader import Downloader

__all__ = ["PoliteDownloader"]


class PoliteDownloader(Downloader):
    async def _download(self, slot: Any, request: Any) -> Any:
        if slot.delay:
            slot.lastseen = max(slot.lastseen, monotonic())
        return await super()._download(slot, request)
