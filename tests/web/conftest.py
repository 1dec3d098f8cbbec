from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import SAMPLES, find_json, meshmill, scrubbed_env
from tests.support.images import write_view_set
from tests.support.servers import create_database, meshmill_server


def converted_catalog(env: dict[str, str], folder: Path) -> dict[str, int]:
    """Three sample images and a four-view set × two variants through the main job, labelled like a studio would;
    mobile is also written as FBX and USDZ.

    duck and soccer ball: collection toys, tag demo; mug and rubber-duck (front, left, back, right, given
    with --views, after the mug): collection kitchen; duck also tagged approved.
    Returns the source ids by file name."""
    meshmill(
        env, "variant", "add", "mobile", "--preset", "mobile", "--faces", "1200", "--texture-size", "512", "--lods", "2",
        "--formats", "glb,fbx,usdz",
    )  # fmt: skip
    meshmill(env, "variant", "add", "desktop", "--faces", "3000", "--texture-size", "512")
    meshmill(env, "convert", str(SAMPLES / "duck.png"), str(SAMPLES / "soccer_ball.png"), "-c", "toys", "-t", "demo")
    views = write_view_set(folder, "rubber-duck", "folder")
    given = ",".join(f"{view}={views / f'{view}.png'}" for view in ("front", "left", "back", "right"))
    meshmill(env, "convert", str(SAMPLES / "mug.jpg"), "--views", f"{given},name=rubber-duck", "-c", "kitchen")
    ids = {r["filename"]: r["id"] for r in find_json(env)}
    meshmill(env, "catalog", "tag", str(ids["duck.png"]), "--add", "approved")
    return ids


#: each catalog once per worker process: an xdist worker tears package fixtures down whenever its queue of
#: tests runs dry, and each build is ~95 s; what a build leaves (its folder, its database) lasts the session
_BUILT: dict[str, tuple[dict[str, str], dict[str, int]]] = {}


@pytest.fixture(scope="package")
def web_catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], dict[str, int]]:
    """A converted catalog on the embedded defaults (SQLite + local blob folder)."""
    if "web" not in _BUILT:
        root = tmp_path_factory.mktemp("web")
        env = scrubbed_env(root / "home", DAGSTER_HOME=str(root / "dagster"))
        _BUILT["web"] = env, converted_catalog(env, root / "views")
    return _BUILT["web"]


@pytest.fixture(scope="package")
def production_catalog(tmp_path_factory: pytest.TempPathFactory, postgres_server: str, s3_server: dict[str, str]):  # noqa: ANN201
    """The same converted catalog on PostgreSQL + S3."""
    if "production" in _BUILT:
        return _BUILT["production"]
    root = tmp_path_factory.mktemp("web-production")
    database = create_database(postgres_server, f"web_{uuid.uuid4().hex[:12]}")
    env = scrubbed_env(
        root / "home",
        DAGSTER_HOME=str(root / "dagster"),
        MESHMILL_DATABASE_URL=database,
        **s3_server,
        MESHMILL_S3_BUCKET=f"web-{uuid.uuid4().hex[:12]}",
    )
    _BUILT["production"] = env, converted_catalog(env, root / "views")
    return _BUILT["production"]


@dataclass
class ServedCatalog:
    url: str  # `meshmill serve` (read-only) on the catalog
    env: dict[str, str]
    ids: dict[str, int]  # source image ids by file name


@pytest.fixture(scope="module", params=["sqlite+local", "postgresql+s3"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedCatalog]:
    """A converted catalog on each configuration, served read-only, shared by the module's tests: they may add
    labels, never remove them. Its Dagster links point at http://dagster.studio:3000."""
    env, ids = request.getfixturevalue("web_catalog" if request.param == "sqlite+local" else "production_catalog")
    env = {**env, "MESHMILL_DAGSTER_URL": "http://dagster.studio:3000"}
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with meshmill_server("serve", env=env, log=log, timeout=60) as url:
        yield ServedCatalog(url, env, ids)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator:
    """Start `meshmill serve` with an environment (and options); returns its base URL. Stopped after the test."""
    numbers = itertools.count()
    with contextlib.ExitStack() as servers:

        def start(env: dict[str, str], *args: str) -> str:
            log = tmp_path / f"serve-{next(numbers)}.log"
            return servers.enter_context(meshmill_server("serve", *args, env=env, log=log, timeout=60))

        yield start
