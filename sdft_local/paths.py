"""Where sdft-local keeps its state on disk.

`SDFT_HOME` moves everything (projects, built-in models, caches); the default is the platform's
user-data directory. This module only computes paths; it creates nothing but the folders asked for.
"""

from __future__ import annotations

import os
from pathlib import Path


def sdft_home() -> Path:
    """The root of all state: `$SDFT_HOME`, else the platform user-data dir."""
    env = os.environ.get("SDFT_HOME")
    if env:
        return Path(env).expanduser().resolve()
    from platformdirs import user_data_dir

    return Path(user_data_dir("sdft-local", appauthor=False))


def projects_dir() -> Path:
    return sdft_home() / "projects"


def models_dir() -> Path:
    return sdft_home() / "models"


def cache_dir() -> Path:
    return sdft_home() / "cache"
