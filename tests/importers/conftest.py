"""What the live-importer tests share: the loopback fake API server, one running per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.importers import fake_apiserver as fake


@pytest.fixture
def server() -> Iterator[Any]:
    with fake.FakeApiServer() as running:
        yield running
