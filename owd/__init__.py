"""owd: the EU open web data pipeline.

This package is the orchestration layer: campaign configs, the document schema,
the stage runners, the local test web and the ``owd`` command line. The stage
packages (``crawler``, ``extract``, ``langid``, ``dedup``, ``index``, ``pools``)
sit beside it and never import Ray.
"""

__version__ = "0.1.0"
