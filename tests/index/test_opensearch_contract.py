"""The backend contract (tests/index/contract.py) against a real OpenSearch node.

The node comes from :mod:`tests.index.opensearch_fixture` (``OWD_OPENSEARCH_URL``, or one
started for the session with ``scripts/opensearch_node.py``); without java/mvn every test
here skips with the reason. Every index made here is deleted at the end of the module.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from owd.index.base import BackendError, SearchBackend
from owd.index.opensearch import OpenSearchBackend
from tests.index.contract import *  # noqa: F401,F403  (the contract suite runs here)
from tests.index.opensearch_fixture import OpenSearchNode, opensearch_node  # noqa: F401  (a fixture)


@pytest.fixture(scope="module")
def backend_factory(opensearch_node: OpenSearchNode) -> Iterator[Callable[..., SearchBackend]]:  # noqa: F811
    made: list[OpenSearchBackend] = []

    def make(name: str, **options: Any) -> SearchBackend:
        b = OpenSearchBackend(opensearch_node.url, f"owdtest-{name}", **options)
        made.append(b)
        return b

    yield make
    for name in sorted({b.index for b in made}):
        try:
            with OpenSearchBackend(opensearch_node.url, name, create=False) as b:
                b.drop()
        except BackendError:  # already gone
            pass
    for b in made:
        b.close()
