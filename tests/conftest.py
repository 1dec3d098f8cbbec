"""Real servers for the tests: a throwaway PostgreSQL cluster and a SeaweedFS S3 gateway.

Both are started once per test session on free loopback ports and removed at the end. Every
catalog test runs on SQLite and on PostgreSQL; every blob test on a local folder and on S3.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

# rembg imports pymatting, whose numba functions compile at import (70–95 s on two cores, once per fresh
# install); Meshmill never calls them (no alpha matting), so the tests, and the CLI runs they start, skip the JIT
os.environ.setdefault("NUMBA_DISABLE_JIT", "1")

import pytest  # noqa: E402

from catalog import LocalBlobStore, S3BlobStore, dispose_engines, get_engine
from tests.support import bare_env, scrubbed_env
from tests.support.servers import S3_ACCESS_KEY, S3_SECRET_KEY, create_database, meshmill_server, throwaway_postgres, throwaway_s3
from tests.support.tiny_diffusers import build_shap_e
from tests.support.tiny_hunyuan import build_tested_models


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
    return S3BlobStore(s3["MESHMILL_S3_ENDPOINT"], S3_ACCESS_KEY, S3_SECRET_KEY, s3["MESHMILL_S3_BUCKET"], secure=False)


@pytest.fixture(params=["sqlite+local", "postgresql+s3"])
def meshmill_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Environment for running `meshmill` as a user would: embedded defaults, or PostgreSQL + S3 (and a Dagster home of its own)."""
    env = scrubbed_env(tmp_path / "home", DAGSTER_HOME=str(tmp_path / "dagster"))
    if request.param == "postgresql+s3":
        env["MESHMILL_DATABASE_URL"] = request.getfixturevalue("postgres_url")
        env.update(request.getfixturevalue("s3_settings"))
    return env


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process on the embedded defaults (SQLite + blob folder) under a fresh MESHMILL_HOME."""
    for name in [n for n in os.environ if n.startswith(("MESHMILL_", "DAGSTER_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MESHMILL_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder with tiny Hunyuan3D-2, 2mv and 2mini-turbo (DiT + turbo VAE) in the published layout."""
    return build_tested_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def shap_e_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder with a tiny Shap-E img2img pipeline in the published layout."""
    root = tmp_path_factory.mktemp("shap-e")
    build_shap_e(root / "openai/shap-e-img2img")
    return root


@pytest.fixture
def models_env(tiny_models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MESHMILL_MODELS_DIR", str(tiny_models))
    return tiny_models


@pytest.fixture(autouse=True)
def _close_catalog_connections() -> Iterator[None]:
    """Each test's databases are new: drop the pooled connections to them afterwards."""
    yield
    dispose_engines()


@pytest.fixture(scope="session")
def model_server(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`meshmill model-server` serving the tiny Hunyuan3D-2 on the CPU (its coarsest volume unless a request asks); yields its address."""
    log = tmp_path_factory.mktemp("model-server") / "server.log"
    env = bare_env(MESHMILL_MODELS_DIR=str(tiny_models))
    with meshmill_server(
        "model-server", "--backend", "hunyuan3d-2", "--device", "cpu", "--default", "octree_resolution=64", env=env, log=log
    ) as url:
        yield url
