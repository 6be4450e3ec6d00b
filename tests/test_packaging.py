"""A built wheel carries every subpackage and the shipped data, and imports without the source
tree (the package list in pyproject.toml cannot silently miss a subpackage)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.integration


def test_the_wheel_holds_every_module_and_imports_from_itself(tmp_path: Path) -> None:
    # Built from a copy: setuptools writes build/ beside the sources, never into the checkout.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for folder in ("analysis", "models", "data"):
        shutil.copytree(ROOT / folder, source / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                    "-q", "-w", str(tmp_path / "dist"), str(source)], check=True)
    wheel = next((tmp_path / "dist").glob("rechallenge-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path / "site")
        names = set(archive.namelist())
    sources = [p.relative_to(ROOT) for folder in ("analysis", "models", "data")
               for p in (ROOT / folder).rglob("*.py")]
    missing = [str(s) for s in sources if f"rechallenge/{s.as_posix()}" not in names]
    assert missing == []
    assert "rechallenge/data/synthetic_scheiner2023.csv" in names
    # The unpacked wheel first on the path: every subpackage and the example data load from it.
    probe = ("import importlib, pkgutil, rechallenge.analysis as a, rechallenge.data as d;"
             "mods = [m.name for m in pkgutil.walk_packages(a.__path__, 'rechallenge.analysis.')];"
             "[importlib.import_module(m) for m in mods if not m.endswith('__main__')];"
             "assert a.__file__.startswith(SITE), a.__file__;"
             "assert len(d.example_study().patients) == 116;"
             "print(len(mods))")
    site = str(tmp_path / "site")
    out = subprocess.run([sys.executable, "-c", f"import sys; SITE={site!r}; sys.path.insert(0, SITE);"
                          + probe], check=True, capture_output=True, text=True, cwd=tmp_path)
    assert int(out.stdout.strip()) > 50
