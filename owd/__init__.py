"""owd: the EU open web data pipeline.

This package is the orchestration layer: the command line, the executors that run the
pipeline locally or on Ray, the report, the server and the local test web. Below it sit
the stage packages (``owd.crawler``, ``owd.extract``, ``owd.langid``, ``owd.dedup``,
``owd.index``, ``owd.pools``: the folders at the top of the repository) and, at the
bottom, :mod:`owd.core`. Only the ``owd.ray_*`` modules (the cluster connection, the Ray
executor, the crawler actors) import Ray.
"""

import os as _os

# Arrow's allocator (mimalloc in the pyarrow wheels) keeps the pages it frees for reuse
# by default; a worker that reads and rewrites row groups for hours then holds its
# largest moment's pages for good. Returning them at once lowers the peak of
# `owd process` on 990 pages from 444 to 353 MB at no measured cost in speed
# (bench/bench_process_memory.py). Read by mimalloc when pyarrow first allocates, which
# is after this (and in every worker process, which inherits the environment); a value
# the user set is kept.
_os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")
_os.environ.setdefault("MIMALLOC_ARENA_EAGER_COMMIT", "0")

from owd.core import VERSION as __version__  # noqa: E402  (after the allocator settings)

__all__ = ["__version__"]
