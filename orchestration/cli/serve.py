"""``meshmill serve``: the catalog web app."""

from __future__ import annotations

import typer

from orchestration.cli.common import open_engine, say


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
    say(f"Meshmill catalog on http://{host}:{port}/ ({'edits allowed' if allow_edits else 'read-only'}; answers {', '.join(hosts)})")
    uvicorn.run(create_app(allow_edits=allow_edits, hosts=hosts), host=host, port=port, log_level="warning")
