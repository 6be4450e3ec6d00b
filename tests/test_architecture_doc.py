"""docs/architecture.md stays true: every module it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def test_every_module_named_in_the_map_exists() -> None:
    rows = [line for line in DOC.splitlines() if line.startswith("| `")]
    named = []
    for row in rows:
        folder = re.match(r"\| `([a-z_/]+)/` \|", row)
        assert folder, row
        for module in re.findall(r"`([a-z_]+\.py)`", row.split("|", 2)[2]):
            named.append(ROOT / folder.group(1) / module)
    assert len(named) > 50
    missing = [str(p.relative_to(ROOT)) for p in named if not p.is_file()]
    assert missing == []


def test_every_path_with_a_folder_named_in_prose_exists() -> None:
    for folder, module in re.findall(r"`((?:run|cli|settings|summaries|plots|reporting|design|"
                                     r"map_prior))/([a-z_]+\.py)", DOC):
        assert (ROOT / "analysis" / folder / module).is_file(), f"{folder}/{module}"


def test_every_analysis_subpackage_is_on_the_map() -> None:
    for package in (ROOT / "analysis").iterdir():
        if (package / "__init__.py").is_file():
            assert f"`analysis/{package.name}/`" in DOC, package.name


def test_every_module_of_the_package_is_on_the_map() -> None:
    modules = [p for folder in ("analysis", "models", "data") for p in (ROOT / folder).rglob("*.py")
               if p.name not in ("__init__.py", "__main__.py") and p.parent != ROOT / "analysis"]
    unnamed = [str(p.relative_to(ROOT)) for p in modules if f"`{p.name}`" not in DOC]
    assert unnamed == []
