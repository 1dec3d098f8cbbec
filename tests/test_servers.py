"""The throwaway servers the fault tests lean on must start even when the machine is busy opening ports."""

import shutil
import socket
from pathlib import Path

from minio import Minio

from tests.support.servers import S3_ACCESS_KEY, S3_SECRET_KEY, S3Server


def _port(server: S3Server, flag: str) -> int:
    return int(next(arg for arg in server.command if arg.startswith(f"-{flag}.port=")).split("=")[1])


def test_the_s3_server_starts_on_fresh_ports_when_one_was_taken_meanwhile():
    server = S3Server()
    first_ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [_port(server, name) for name in ("master", "volume", "filer", "s3", "admin")]
    assert len(set(ports)) == 5 and max(ports) + 10000 < first_ephemeral
    taken = _port(server, "filer")
    try:
        with socket.socket() as squatter:  # what another process did in CI between the choice and the bind
            squatter.bind(("127.0.0.1", taken))
            squatter.listen()
            server.start()
            assert _port(server, "filer") != taken
            settings = server.settings
            client = Minio(settings["MESHMILL_S3_ENDPOINT"], S3_ACCESS_KEY, S3_SECRET_KEY, secure=False)
            assert client.list_buckets() == []
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
