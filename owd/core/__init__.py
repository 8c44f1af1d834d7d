"""owd.core: the bottom layer every other package may import, and which imports none of them.

What the stages share and nothing more: the document schema (:mod:`owd.core.schema`),
the campaign config and its typed loader (:mod:`owd.core.config`,
:mod:`owd.core.typed_config`), the EU language table (:mod:`owd.core.languages`), the
error vocabulary (:mod:`owd.core.errors`), the step contract (:mod:`owd.core.step`) and
the web formats both the crawler and the extractor read: URLs, links and media
references, TDMRep and robots directives, CDXJ (:mod:`owd.core.urls`,
:mod:`owd.core.links`, :mod:`owd.core.tdm`, :mod:`owd.core.cdxj`).

tests/test_layout.py walks the imports: core imports only the standard library and
third-party packages, stage packages import core and themselves, and only the
orchestration package (``owd`` outside ``owd.core``) sees everything.
"""

VERSION = "0.1.0"
