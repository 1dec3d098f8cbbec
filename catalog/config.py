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
