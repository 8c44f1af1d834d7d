"""The language identifier the langid tests share: one per test module (its running
counters start at zero in each module), with the default rules and the real model."""

from __future__ import annotations

import pytest

from owd.langid.identify import LanguageIdentifier


@pytest.fixture(scope="module")
def lid() -> LanguageIdentifier:
    return LanguageIdentifier()
