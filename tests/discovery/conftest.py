"""Fixtures for the discovery tests.

- `netns`: a fresh network namespace with lo and a second interface d0
  (tests/discovery/netns.py), removed with its processes after the test;
  skipped, with the reason, when not root or `ip netns` cannot make one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .netns import Namespace, namespace, unavailable


@pytest.fixture(scope="session")
def netns_unavailable() -> str | None:
    return unavailable()


@pytest.fixture
def netns(netns_unavailable: str | None) -> Iterator[Namespace]:
    if netns_unavailable is not None:
        pytest.skip(netns_unavailable)
    with namespace() as space:
        yield space
