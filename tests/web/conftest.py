from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from tests.orchestration.test_ingest_cli import MESHMILL, find_json, meshmill
from tests.servers import free_port, wait_for_port

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
    """Start `meshmill serve` with an environment; returns its base URL."""
    processes = []

    def start(env: dict[str, str], *args: str) -> str:
        port = free_port()
        log = tmp_path / f"serve-{port}.log"
        with log.open("w") as out:
            process = subprocess.Popen([MESHMILL, "serve", "--port", str(port), *args], env=env, stdout=out, stderr=subprocess.STDOUT)
        processes.append(process)
        wait_for_port(port, 60, process, log)
        return f"http://127.0.0.1:{port}"

    yield start
    for process in processes:
        process.terminate()
        process.wait(30)
