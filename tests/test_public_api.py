"""The public API: every exported name imports, and every import path the code and docs name
exists (``rechallenge.models.build_binary_model`` in a docstring must be importable)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rechallenge.models", "rechallenge.data", "rechallenge.analysis")
DOTTED = re.compile(r"\brechallenge(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_imports(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__, package
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"


def resolves(dotted: str) -> bool:
    """Whether ``dotted`` names a module, or an attribute reachable from one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 1, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def named_paths() -> list[tuple[str, str]]:
    sources = [*ROOT.glob("models/*.py"), *ROOT.glob("data/*.py"), *(ROOT / "analysis").rglob("*.py"),
               *ROOT.glob("docs/*.md"), ROOT / "README.md"]
    found = set()
    for path in sources:
        for match in DOTTED.findall(path.read_text(encoding="utf-8")):
            found.add((str(path.relative_to(ROOT)), match.rstrip(".")))
    return sorted(found)


def test_every_import_path_named_in_code_and_docs_exists() -> None:
    broken = [f"{where}: {dotted}" for where, dotted in named_paths() if not resolves(dotted)]
    assert broken == []


def test_the_readme_example_imports_from_the_three_packages_only() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = readme.split("```python", 1)[1].split("```", 1)[0]
    imports = re.findall(r"^from (\S+) import", example, flags=re.M)
    assert imports and set(imports) <= set(PACKAGES)
