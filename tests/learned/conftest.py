"""Fixtures of the learned-backend tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.servers import FakeServer, fake_servers


@pytest.fixture
def fake_server() -> Iterator[Callable[..., FakeServer]]:
    """``fake_server(answer)``: a model server answering each POST with ``answer(handler, request_number)``."""
    with fake_servers() as start:
        yield start
