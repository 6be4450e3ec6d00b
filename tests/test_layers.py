"""The layers of ``rechallenge.analysis`` depend downward only (docs/architecture.md).

Parses every module's imports (including those inside functions and under TYPE_CHECKING) without
importing anything, so it is fast and catches an upward import however it is written.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ANALYSIS = ROOT / "analysis"

#: Which analysis subpackages each one may import (besides itself, data and models).
ALLOWED: dict[str, set[str]] = {
    "settings": set(),
    "summaries": {"settings"},
    "plots": {"settings", "summaries"},
    "reporting": {"settings", "summaries", "plots"},
    "map_prior": {"settings", "summaries"},
    "families": {"settings", "summaries", "plots", "reporting", "map_prior"},
    "design": {"settings", "summaries", "plots", "map_prior"},
    "run": {"settings", "summaries", "plots", "reporting", "map_prior", "families"},
    "simulation": {"settings", "summaries", "plots", "reporting", "map_prior", "families", "run"},
    "cli": {"settings", "summaries", "plots", "reporting", "map_prior", "families", "design",
            "run", "simulation"},
}
#: Modules of the models layer that sample (or compile for sampling): the run layer's alone.
SAMPLER_MODULES = ("rechallenge.models.sampling", "rechallenge.models.nutpie_cache", "nutpie")
SAMPLER_USERS = {"run", "simulation"}


def imported_modules(path: Path, folder: str | None = None) -> list[str]:
    """Every module ``path`` imports, as absolute dotted names.

    A relative import is an error in ``analysis/`` (``folder`` None); in ``data/`` and
    ``models/``, which use them, it is resolved to ``rechallenge.<folder>``.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level and folder is None:
                raise AssertionError(f"{path}: relative import; write the absolute module path")
            base = (f"rechallenge.{folder}" + (f".{node.module}" if node.module else "")
                    if node.level else str(node.module))
            names += [f"{base}.{alias.name}" for alias in node.names]
    return names


def layer_of(name: str) -> str | None:
    parts = name.split(".")
    if parts[:2] == ["rechallenge", "analysis"] and len(parts) > 2:
        return parts[2]
    return None


def modules() -> list[Path]:
    return sorted(p for p in ANALYSIS.rglob("*.py") if p.parent != ANALYSIS)


def test_every_subpackage_has_a_rule_and_no_module_is_left_at_the_top() -> None:
    subpackages = {p.name for p in ANALYSIS.iterdir() if (p / "__init__.py").is_file()}
    assert subpackages == set(ALLOWED)
    assert sorted(p.name for p in ANALYSIS.glob("*.py")) == ["__init__.py"]


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ANALYSIS)))
def test_imports_go_down_the_layers(path: Path) -> None:
    layer = path.relative_to(ANALYSIS).parts[0]
    wrong = [name for name in imported_modules(path)
             if layer_of(name) not in (None, layer, *ALLOWED[layer])]
    assert wrong == [], f"{layer} may import only {sorted(ALLOWED[layer])}"
    if layer not in SAMPLER_USERS:
        sampler = [name for name in imported_modules(path) if name.startswith(SAMPLER_MODULES)]
        assert sampler == [], "only the run and simulation layers import the sampler"


#: The two folders under analysis, and what each may import of the package: data nothing above
#: itself, models the data layer (never rechallenge.analysis).
LOWER_LAYERS: dict[str, tuple[str, ...]] = {"data": ("rechallenge.data",),
                                             "models": ("rechallenge.data", "rechallenge.models")}


def lower_modules() -> list[Path]:
    return sorted(p for folder in LOWER_LAYERS for p in (ROOT / folder).rglob("*.py"))


def package_imports(path: Path, folder: str) -> list[str]:
    """Every rechallenge module ``path`` imports; a relative import is resolved to ``folder``."""
    return [n for n in imported_modules(path, folder) if n.startswith("rechallenge")]


@pytest.mark.parametrize("path", lower_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_data_and_models_never_import_the_analysis(path: Path) -> None:
    folder = path.relative_to(ROOT).parts[0]
    wrong = [n for n in package_imports(path, folder) if not n.startswith(LOWER_LAYERS[folder])]
    assert wrong == [], f"{folder} may import only {LOWER_LAYERS[folder]}"


def test_an_upward_import_from_data_is_caught(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from rechallenge.analysis.summaries import binary\n")
    assert package_imports(bad, "data") == ["rechallenge.analysis.summaries.binary"]


def test_a_violation_is_caught(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from rechallenge.analysis.run.pipeline import analyze\n")
    assert "rechallenge.analysis.run.pipeline.analyze" in imported_modules(bad)
    assert layer_of("rechallenge.analysis.run.pipeline.analyze") == "run" not in ALLOWED["summaries"]


def test_no_module_passes_400_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in [*ANALYSIS.rglob("*.py"), *ROOT.glob("models/*.py"),
                                                  *ROOT.glob("data/*.py")]
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}
