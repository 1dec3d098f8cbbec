"""Real servers for the tests: a throwaway PostgreSQL cluster and a SeaweedFS S3 gateway.

Both are started once per test session on free loopback ports and removed at the end. Every
catalog test runs on SQLite and on PostgreSQL; every blob test on a local folder and on S3.
"""

from __future__ import annotations

import itertools
import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from catalog import LocalBlobStore, S3BlobStore, dispose_engines, get_engine
from tests.servers import S3_ACCESS_KEY, S3_SECRET_KEY, create_database, throwaway_postgres, throwaway_s3


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A fresh PostgreSQL cluster; yields the server URL without a database name."""
    with throwaway_postgres() as url:
        try:
            yield url
        finally:
            dispose_engines()


_db_counter = itertools.count()


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A new, empty database on the throwaway cluster."""
    return create_database(postgres_server, f"test_{os.getpid()}_{next(_db_counter)}")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that takes this runs twice: on a SQLite file and on a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def engine(database_url: str):  # noqa: ANN201
    return get_engine(database_url)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[dict[str, str]]:
    with throwaway_s3() as settings:
        yield settings


@pytest.fixture
def s3_settings(s3_server: dict[str, str]) -> dict[str, str]:
    """S3 settings with a bucket of this test's own."""
    return {**s3_server, "MESHMILL_S3_BUCKET": f"test-{uuid.uuid4().hex[:12]}"}


@pytest.fixture(params=["local", "s3"])
def blob_store(request: pytest.FixtureRequest, tmp_path: Path):  # noqa: ANN201
    """Each test that takes this runs twice: on a local folder and on the S3 server."""
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    s3 = request.getfixturevalue("s3_settings")
    return S3BlobStore(
        s3["MESHMILL_S3_ENDPOINT"], S3_ACCESS_KEY, S3_SECRET_KEY, s3["MESHMILL_S3_BUCKET"], secure=False
    )


@pytest.fixture(params=["sqlite+local", "postgresql+s3"])
def meshmill_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Environment for running `meshmill` as a user would: embedded defaults, or PostgreSQL + S3."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHMILL_")}
    env["MESHMILL_HOME"] = str(tmp_path / "home")
    if request.param == "postgresql+s3":
        env["MESHMILL_DATABASE_URL"] = request.getfixturevalue("postgres_url")
        env.update(request.getfixturevalue("s3_settings"))
    return env


@pytest.fixture(autouse=True)
def _close_catalog_connections() -> Iterator[None]:
    """Each test's databases are new: drop the pooled connections to them afterwards."""
    yield
    dispose_engines()
