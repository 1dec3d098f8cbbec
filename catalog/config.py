"""Where the catalog lives, read from the environment (embedded defaults under MESHMILL_HOME)."""

from __future__ import annotations

import os
from pathlib import Path


def meshmill_home() -> Path:
    """The data folder: ``$MESHMILL_HOME``, default ``./.meshmill``."""
    return Path(os.environ.get("MESHMILL_HOME") or ".meshmill").expanduser().resolve()


def database_url() -> str:
    """``$MESHMILL_DATABASE_URL``, default a SQLite file ``$MESHMILL_HOME/catalog.db``."""
    url = os.environ.get("MESHMILL_DATABASE_URL")
    if url:
        return url
    home = meshmill_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'catalog.db'}"


#: where `meshmill serve` notes the address it answers on, for the links Dagster shows to each output's page
_WEB_URL_FILE = "web-url"
DEFAULT_WEB_URL = "http://127.0.0.1:8787"


def web_url() -> str:
    """Where the catalog web app answers: ``$MESHMILL_WEB_URL``, else the address `meshmill serve` last announced for
    this data folder (``remember_web_url``), else its default address."""
    said = os.environ.get("MESHMILL_WEB_URL")
    if not said:
        try:
            said = (meshmill_home() / _WEB_URL_FILE).read_text(encoding="utf-8").strip()
        except OSError:
            said = DEFAULT_WEB_URL
    return (said or DEFAULT_WEB_URL).rstrip("/")


def remember_web_url(url: str) -> None:
    """Note the address the web app answers on, for outputs made from now on (best effort: a read-only data folder
    keeps the default)."""
    try:
        home = meshmill_home()
        home.mkdir(parents=True, exist_ok=True)
        (home / _WEB_URL_FILE).write_text(url + "\n", encoding="utf-8")
    except OSError:
        pass
