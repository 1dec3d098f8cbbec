from __future__ import annotations

import contextlib
import itertools
import os
from pathlib import Path
from typing import Iterator

import pytest

from tests.orchestration.test_ingest_cli import find_json, meshmill
from tests.servers import meshmill_server

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def converted_catalog(env: dict[str, str]) -> dict[str, int]:
    """Three sample images × two variants through the main job, labelled like a studio would.

    duck and soccer ball: collection toys, tag demo; mug: collection kitchen; duck also tagged approved.
    Returns the source ids by file name."""
    meshmill(env, "variant", "add", "mobile", "--preset", "mobile", "--faces", "1200", "--texture-size", "512")
    meshmill(env, "variant", "add", "desktop", "--faces", "3000", "--texture-size", "512")
    meshmill(env, "convert", str(SAMPLES / "duck.png"), str(SAMPLES / "soccer_ball.png"), "-c", "toys", "-t", "demo", "--upscale", "1")
    meshmill(env, "convert", str(SAMPLES / "mug.jpg"), "-c", "kitchen", "--upscale", "1")
    ids = {r["filename"]: r["id"] for r in find_json(env)}
    meshmill(env, "catalog", "tag", str(ids["duck.png"]), "--add", "approved")
    return ids


@pytest.fixture(scope="module")
def web_catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], dict[str, int]]:
    """A converted catalog on the embedded defaults (SQLite + local blob folder)."""
    root = tmp_path_factory.mktemp("web")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHMILL_")}
    env.update(MESHMILL_HOME=str(root / "home"), DAGSTER_HOME=str(root / "dagster"))
    return env, converted_catalog(env)


@pytest.fixture(params=["sqlite+local", "postgresql+s3"])
def any_catalog(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[dict[str, str], dict[str, int]]:
    """A converted catalog on each configuration: the module's SQLite one (shared: tests may add labels,
    never remove them), or a fresh one on PostgreSQL + S3."""
    if request.param == "sqlite+local":
        return request.getfixturevalue("web_catalog")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHMILL_")}
    env.update(MESHMILL_HOME=str(tmp_path / "home"), DAGSTER_HOME=str(tmp_path / "dagster"),
               MESHMILL_DATABASE_URL=request.getfixturevalue("postgres_url"), **request.getfixturevalue("s3_settings"))  # fmt: skip
    return env, converted_catalog(env)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator:
    """Start `meshmill serve` with an environment (and options); returns its base URL. Stopped after the test."""
    numbers = itertools.count()
    with contextlib.ExitStack() as servers:

        def start(env: dict[str, str], *args: str) -> str:
            log = tmp_path / f"serve-{next(numbers)}.log"
            return servers.enter_context(meshmill_server("serve", *args, env=env, log=log, timeout=60))

        yield start
