"""Where the suite's data lives, in a checkout and in an installed distribution.

The repository keeps the design card's top level: `suites/`, `schemas/` and `fixtures/`
sit beside the engine package.  The distribution maps those folders into the package
(`chatconform/suites`, `chatconform/data/...`: pyproject.toml's `package-dir`), so an installed
chatconform carries them and works from any directory.  One function answers for both
layouts; nothing else computes a data path.
"""

from __future__ import annotations

import os
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent


def _mapped(installed: pathlib.Path, folder: str) -> pathlib.Path:
    """The folder inside the package when installed from a wheel, else the checkout's
    top-level one (an editable install maps the folders without copying them)."""
    return installed if installed.is_dir() else PACKAGE.parent / folder


# chatconform.suites is a package (pytest --pyargs chatconform.suites); the data folders
# sit under chatconform/data/, apart from the modules schemas.py and fixtures.py.
SUITES_DIR = _mapped(PACKAGE / "suites", "suites")
SCHEMA_DIR = _mapped(PACKAGE / "data" / "schemas", "schemas")
FIXTURES_DIR = _mapped(PACKAGE / "data" / "fixtures", "fixtures")


def cache_dir() -> pathlib.Path:
    """The per-user cache (`CHATCONFORM_CACHE_DIR`, else $XDG_CACHE_HOME or ~/.cache,
    then `chatconform`): hypothesis' example database and tables live here, never in
    the directory a user runs the suite from."""
    env = os.environ.get("CHATCONFORM_CACHE_DIR")
    if env:
        return pathlib.Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or (pathlib.Path.home() / ".cache")
    return pathlib.Path(base) / "chatconform"
