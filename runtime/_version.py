"""The distribution's version, from one place: ``[project] version`` in pyproject.toml.

Installed (wheel or editable), it is read from the distribution's metadata; in a checkout that is not installed
(this repository's CDK app), from the pyproject.toml next to the packages.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

DISTRIBUTION = "agent-memory-mesh"
UNKNOWN = "0+unknown"


def package_version() -> str:
    """The version of the checkout these modules live in, else of the installed distribution."""
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if pyproject.is_file():
        import tomllib

        try:
            project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        except (OSError, tomllib.TOMLDecodeError):
            project = {}
        if project.get("name") == DISTRIBUTION and isinstance(project.get("version"), str):
            return str(project["version"])
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return UNKNOWN
