"""owd stage package: extract (WARC record -> document).

``read_warc`` (warc_reader) yields content-decoded fetch records; ``extract_document``
(html) turns one HTML fetch into a :class:`owd.core.schema.Document`; ``extract_warc``
(shard) does a whole WARC file, media records joined into media items. Names are
imported lazily so that reading WARC does not load trafilatura.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ExtractLimits", "FetchRecord", "extract_document", "extract_warc", "read_warc"]

_WHERE = {"ExtractLimits": "owd.extract.html", "extract_document": "owd.extract.html", "FetchRecord": "owd.extract.warc_reader",
          "read_warc": "owd.extract.warc_reader", "extract_warc": "owd.extract.shard"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'extract' has no attribute {name!r}")
