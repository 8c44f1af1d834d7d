"""owd: the EU open web data pipeline.

This package is the orchestration layer: the command line, the executors that run the
pipeline locally or on Ray, the report, the server and the local test web. Below it sit
the stage packages (``owd.crawler``, ``owd.extract``, ``owd.langid``, ``owd.dedup``,
``owd.index``, ``owd.pools``: the folders at the top of the repository) and, at the
bottom, :mod:`owd.core`. Only the ``owd.ray_*`` modules (the cluster connection, the Ray
executor, the crawler actors) import Ray.
"""

from owd.core import VERSION as __version__

__all__ = ["__version__"]
