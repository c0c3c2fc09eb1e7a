"""Where the templates and migrations live, in a source checkout or an installed wheel."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _bundled_or_source(name: str) -> Path:
    # A wheel carries the folder under app/_bundled; a source checkout keeps it at the top level.
    bundled = PACKAGE_DIR / "_bundled" / name
    return bundled if bundled.is_dir() else PACKAGE_DIR.parent / name


PROMPTS_DIR = _bundled_or_source("prompts")
ALEMBIC_DIR = _bundled_or_source("alembic")
