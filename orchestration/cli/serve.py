"""``meshmill serve``: the catalog web app."""

from __future__ import annotations

import socket

import typer

from catalog.config import remember_web_url
from orchestration.cli.common import fail, open_engine, say


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for every one)."),
    port: int = typer.Option(8787, help="Port to listen on."),
    allow_edits: bool = typer.Option(
        False,
        "--allow-edits",
        help="Let the pages edit: tags and collections, review (approve, reject, make again). Edits carry a reviewer's "
        "token from MESHMILL_EDIT_TOKENS (name=token, comma-separated); without tokens, only on a loopback --host.",
    ),
    allowed_host: list[str] = typer.Option(
        [],
        "--allowed-host",
        help="A name or address browsers reach the app by, besides loopback and --host (repeatable; also "
        "MESHMILL_ALLOWED_HOSTS). Requests naming any other Host are refused.",
    ),
) -> None:
    """The catalog web app: search by tag and collection, a 3D viewer per output, side-by-side variants, downloads."""
    import uvicorn

    from orchestration.web.app import LOOPBACK_HOSTS, allowed_hosts, create_app
    from orchestration.web.state import TOKENS_ENV, TokenError, edit_tokens

    open_engine()  # a bad MESHMILL_DATABASE_URL ends here, with its message
    try:
        tokens = edit_tokens()
    except TokenError as exc:
        fail(str(exc))
    if allow_edits and not tokens and host not in LOOPBACK_HOSTS:
        fail(f"--allow-edits on {host} needs reviewers' tokens in {TOKENS_ENV} (name=token, comma-separated): anyone who "
             "reaches the app could edit otherwise; or serve on 127.0.0.1")  # fmt: skip
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
    edits = f"edits by {len(tokens)} reviewer(s) with tokens" if tokens else "edits allowed from this machine"
    say(f"Meshmill catalog on {url}/ ({edits if allow_edits else 'read-only'}; answers {', '.join(hosts)})")
    config = uvicorn.Config(create_app(allow_edits=allow_edits, hosts=hosts, tokens=tokens), log_level="warning")
    uvicorn.Server(config).run(sockets=[listening])
