"""The package's shape: what is installed, under which name, and that the folders and the package list agree."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Where each installed package's folder is in the repository (pyproject's package-dir).
FOLDERS = {"camhub": ROOT / "hub", "camhub.integrations": ROOT / "integrations", "camhub.web": ROOT / "web"}


def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def folder_of(package: str) -> Path:
    best = max((p for p in FOLDERS if package == p or package.startswith(p + ".")), key=len)
    return FOLDERS[best].joinpath(*package[len(best) :].split(".")[1:])


def test_every_package_folder_is_listed_and_every_listed_package_exists() -> None:
    listed = set(pyproject()["tool"]["setuptools"]["packages"])  # type: ignore[index]
    found = set()
    for name, folder in FOLDERS.items():
        for init in folder.rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            relative = init.parent.relative_to(folder).parts
            found.add(".".join((name, *relative)))
    assert found - listed == set(), "add these packages to [tool.setuptools] packages in pyproject.toml"
    assert listed - found == set(), "pyproject.toml lists packages that have no folder"
    for package in listed:
        assert (folder_of(package) / "__init__.py").is_file(), package


def test_only_camhub_lands_at_the_top_of_site_packages() -> None:
    # The installed distribution's own record of its top-level names (the editable install here,
    # the wheel in the Docker image): nothing called hub, integrations or web.
    top = metadata.distribution("camhub").read_text("top_level.txt")
    assert top is not None and top.split() == ["camhub"]
    assert pyproject()["project"]["scripts"] == {"camhub": "camhub.cli.main:main"}  # type: ignore[index]


def test_no_code_imports_the_old_top_level_names() -> None:
    old = re.compile(r"^\s*(from|import)\s+(hub|integrations|web)(\.|\s)", re.MULTILINE)
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("hub", "integrations", "tests", "bench", "scripts")
        for path in (ROOT / folder).rglob("*.py")
        if old.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_long_modules_are_explained_in_the_architecture_page() -> None:
    # Modules stay small (a few hundred lines); one that grows past LIMIT is either split or named,
    # with the reason, under "Modules over 400 lines" in docs/architecture.md.
    limit = 400
    page = (ROOT / "docs" / "architecture.md").read_text()
    explained = page[page.index("## Modules over 400 lines") :]
    long = [
        str(path.relative_to(ROOT))
        for folder in ("hub", "integrations")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if len(path.read_text(encoding="utf-8").splitlines()) > limit
    ]
    assert [name for name in long if f"`{name}`" not in explained] == []
