"""Simulation studies on the engine: calibration (SBC), interval coverage and precision.

Typical use::

    from rechallenge.analysis.simulation import simulate

    result = simulate("sbc", out="sims/sbc", n_sims=500)      # both families, shipped design
    result.tables["sbc_uniformity"]

The same from the command line: ``rechallenge simulate sbc --out sims/sbc --n-sims 500``. See
``docs/simulation.md``. This layer sits above ``run``: its tasks sample.
"""

from rechallenge.analysis.simulation.calibration import (
    coverage_table,
    ecdf_band,
    precision_table,
    sbc_table,
    uniformity_test,
)
from rechallenge.analysis.simulation.design import SimulationDesign
from rechallenge.analysis.simulation.study import (
    DEFAULT_SIMS,
    KINDS,
    SimulationExistsError,
    SimulationResult,
    default_effects,
    simulate,
)

__all__ = [
    "simulate", "SimulationResult", "SimulationExistsError", "SimulationDesign", "KINDS",
    "DEFAULT_SIMS", "default_effects", "uniformity_test", "ecdf_band", "sbc_table",
    "coverage_table", "precision_table",
]
