"""Real servers for the tests: a throwaway PostgreSQL cluster and a SeaweedFS S3 gateway.

Both are started once per test session on free loopback ports and removed at the end. Every
catalog test runs on SQLite and on PostgreSQL; every blob test on a local folder and on S3.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from catalog import LocalBlobStore, S3BlobStore, dispose_engines, get_engine

S3_ACCESS_KEY = "meshmill-test"
S3_SECRET_KEY = "meshmill-test-secret"


def free_port(*, also_free_at_offset: int | None = None) -> int:
    """A free TCP port on 127.0.0.1 (and, if asked, port + offset free too)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if also_free_at_offset is None:
            return port
        if port + also_free_at_offset < 65536:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port + also_free_at_offset))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port pair found")


def wait_for_port(port: int, timeout: float, process: subprocess.Popen | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {log.read_text()[-2000:] if log else ''}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listened on port {port} within {timeout:.0f} s: {log.read_text()[-2000:] if log else ''}")


# --------------------------------------------------------------------------- PostgreSQL


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        pytest.fail("PostgreSQL is not installed: run `make system-deps` (Debian package postgresql)")
    return Path(found[-1]).parent


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb refuses to run as root; CI and developers' machines run the suite as root.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A fresh PostgreSQL cluster; yields the server URL without a database name."""
    bindir = _postgres_bin()
    root = Path(tempfile.mkdtemp(prefix="meshmill-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]),
        check=True, capture_output=True,
    )  # fmt: skip
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {sockets} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    subprocess.run(
        _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "-t", "60", "start"]),
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        dispose_engines()
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


_db_counter = itertools.count()


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A new, empty database on the throwaway cluster."""
    import psycopg

    name = f"test_{os.getpid()}_{next(_db_counter)}"
    with psycopg.connect(postgres_server.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{postgres_server}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that takes this runs twice: on a SQLite file and on a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def engine(database_url: str):  # noqa: ANN201
    return get_engine(database_url)


# --------------------------------------------------------------------------- S3 (SeaweedFS)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[dict[str, str]]:
    """SeaweedFS in `weed mini` mode with an S3 gateway; yields MESHMILL_S3_* settings."""
    weed = shutil.which("weed") or str(Path(sys.executable).with_name("weed"))
    if not Path(weed).exists():
        pytest.fail("the `weed` binary is missing: install the test extra (pip install -e '.[test]')")
    root = Path(tempfile.mkdtemp(prefix="meshmill-s3-"))
    (root / "data").mkdir()
    config = root / "s3.json"
    config.write_text(
        '{"identities":[{"name":"meshmill","credentials":[{"accessKey":"%s","secretKey":"%s"}],'
        '"actions":["Admin","Read","Write","List","Tagging"]}]}' % (S3_ACCESS_KEY, S3_SECRET_KEY)
    )
    # weed puts each gRPC port at its HTTP port + 10000, so both must be free.
    ports = {name: free_port(also_free_at_offset=10000) for name in ("master", "volume", "filer", "s3", "admin")}
    log = root / "log"
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            [
                weed, "mini", f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
                f"-filer.port={ports['filer']}", f"-s3.port={ports['s3']}", f"-admin.port={ports['admin']}",
                "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false",
                f"-s3.config={config}", "-master.telemetry=false",
            ],
            stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for_port(ports["s3"], 90, process, log)
        settings = {
            "MESHMILL_S3_ENDPOINT": f"127.0.0.1:{ports['s3']}",
            "MESHMILL_S3_ACCESS_KEY": S3_ACCESS_KEY,
            "MESHMILL_S3_SECRET_KEY": S3_SECRET_KEY,
            "MESHMILL_S3_SECURE": "false",
        }
        _wait_until_s3_answers(settings)
        yield settings
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(root, ignore_errors=True)


def _wait_until_s3_answers(settings: dict[str, str], timeout: float = 60) -> None:
    from minio import Minio

    client = Minio(settings["MESHMILL_S3_ENDPOINT"], S3_ACCESS_KEY, S3_SECRET_KEY, secure=False)
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.list_buckets()
            return
        except Exception:  # the gateway listens before the filer behind it is ready
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


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
