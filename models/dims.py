"""The vocabulary the model builders share: dimension names, pooling options and covariate
effects, declared once; and the two helpers both model families use, one to turn labels into
indices and one to add covariates to a linear predictor.

Every random variable, ``pm.Data`` and ``pm.Deterministic`` of a builder names its dims from
here, so InferenceData, summaries and docs speak one language (site, line, patient, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

import numpy as np
import pandas as pd
import pytensor.tensor as pt

# Dimension (coordinate) names.
SITE: Final = "site"
LINE: Final = "line"
#: The second line axis of a line-by-line matrix (the site-effect correlation).
LINE_B: Final = "line_b"
#: The unique pairs of lines (the LKJ correlation's free elements).
LINE_PAIR: Final = "line_pair"
PATIENT: Final = "patient"
#: Likelihood rows: a patient-line (or an aggregate row) of the binary model, a patient-line of
#: the TTP model.
OBS: Final = "obs"
#: Aggregate rows of the TTP model (reported medians).
AGG_OBS: Final = "agg_obs"
COVARIATE: Final = "covariate"

Pooling = Literal["partial", "complete", "none"]
#: Pooling options of both model families: partial (hierarchical), complete (one rate per line,
#: no site effects) and none (independent site effects).
POOLINGS: Final[tuple[Pooling, ...]] = ("partial", "complete", "none")
#: The words for each pooling in model names (``binary_partial_pooling``, ``ttp_weibull_...``).
POOLING_NAMES: Final[dict[str, str]] = {
    "partial": "partial_pooling", "complete": "complete_pooling", "none": "no_pooling",
}

CovariateEffects = Literal["shared", "per_line"]
#: Covariate effects: one coefficient shared by the lines, or one per line.
COVARIATE_EFFECTS: Final[tuple[CovariateEffects, ...]] = ("shared", "per_line")


def check_pooling(pooling: str) -> None:
    """Raise ``ValueError`` for an unknown pooling option."""
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}; choose one of {POOLINGS}")


def label_codes(values: pd.Series | Sequence[str], categories: Sequence[str]) -> np.ndarray:
    """Integer codes of ``values`` in the order of ``categories`` (the model's coords).

    The one place labels become indices, so site, line and patient order always follow the
    coordinates.

    Raises
    ------
    ValueError
        A label that is not among ``categories``.
    """
    values = pd.Series(values).astype(str)
    codes = pd.Categorical(values, categories=list(categories)).codes
    if (codes < 0).any():
        raise ValueError(f"labels {sorted(set(values[codes < 0]))} not in {list(categories)}")
    return codes.astype("int64")


def covariate_term(
    x: pt.TensorLike, coefficients: pt.TensorVariable, line_idx: pt.TensorLike
) -> pt.TensorVariable:
    """The covariates' contribution to each row's linear predictor.

    Parameters
    ----------
    x
        Design matrix, (rows, covariates).
    coefficients
        Shape (covariates,) for effects shared by the lines, or (covariates, lines) for effects
        per line.
    line_idx
        Line code of each row (used only for effects per line).
    """
    if coefficients.ndim == 1:
        return pt.dot(x, coefficients)
    return pt.sum(x * coefficients[:, line_idx].T, axis=1)
