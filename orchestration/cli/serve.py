"""``meshmill serve``: the catalog web app."""

from __future__ import annotations

import socket

import typer

from catalog.config import remember_web_url
from orchestration.cli.common import fail, open_engine, say


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for every one)."),
    port: int = typer.Option(8787, help="Port to listen on."),
    allow_edits: bool = typer.Option(False, "--allow-edits", help="Let the pages add and remove tags and collections."),
    allowed_host: list[str] = typer.Option(
        [],
        "--allowed-host",
        help="A name or address browsers reach the app by, besides loopback and --host (repeatable; also "
        "MESHMILL_ALLOWED_HOSTS). Requests naming any other Host are refused.",
    ),
) -> None:
    """The catalog web app: search by tag and collection, a 3D viewer per output, side-by-side variants, downloads."""
    import uvicorn

    from orchestration.web.app import allowed_hosts, create_app

    open_engine()  # a bad MESHMILL_DATABASE_URL ends here, with its message
    hosts = allowed_hosts(host, allowed_host)
    listening = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:  # bound before anything is said: a port in use is the one line, not a URL and then a traceback
        listening.bind((host, port))
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc} (another server there? choose another --port)", 1)
    shown = socket.getfqdn() if host in ("0.0.0.0", "::") else f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}"
    remember_web_url(url)  # Dagster's links to output pages, for outputs made from now on: noted before it answers
    listening.listen(2048)
    say(f"Meshmill catalog on {url}/ ({'edits allowed' if allow_edits else 'read-only'}; answers {', '.join(hosts)})")
    config = uvicorn.Config(create_app(allow_edits=allow_edits, hosts=hosts), log_level="warning")
    uvicorn.Server(config).run(sockets=[listening])
