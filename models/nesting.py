"""Complete and no pooling written as special cases of the partial-pooling model ("nested").

A run fits every endpoint three ways: partial pooling (reported) and, for LOO, complete and no
pooling. Written as separate models these are three structures, each compiled for nutpie in
seconds, while on a study of this size each fit samples in well under a second. Nested, the
three share the partial model's graph and hence one compilation; only data differ::

    u_site = hierarchical * (partial-pooling site effects) + independent * independent_sd * z_site

=============  ============  ===========  ==================================================
pooling        hierarchical  independent  the model that results
=============  ============  ===========  ==================================================
partial        1             0            the partial-pooling model itself
complete       0             0            ``u_site = 0``: one mean per line
none           0             1            ``u_site[s, l] = independent_sd * z_site[s, l]``,
                                          i.e. independent ``Normal(0, independent_sd)``
=============  ============  ===========  ==================================================

(the binary no-pooling model also has no line intercept: its log-odds are ``u_site`` alone, so the
intercept is multiplied by ``1 - independent``). This is exact: in a nested comparator the variables
the weights switch off (:func:`prior_only_variables`) no longer touch the likelihood, so they are
independent of the rest a posteriori, their posterior is their prior, and the remaining variables
have exactly the comparator's own posterior. The sampler draws them along (their geometry is
that of the prior, which is easy) and :func:`rechallenge.models.sampling.fit` drops them from
the fit, which then holds the same variables as the separately written comparator.

The extra dimensions cost sampling time in proportion to the number of sites, so the fitting
stage nests only while compiling costs more than sampling (small studies, nutpie).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pymc as pm
import pytensor.tensor as pt

#: Data containers holding the pooling weights of a nested model.
HIERARCHICAL_DATA: Final = "pooling_hierarchical"
INDEPENDENT_DATA: Final = "pooling_independent"

_WEIGHTS: Final[dict[str, tuple[float, float]]] = {
    "partial": (1.0, 0.0), "complete": (0.0, 0.0), "none": (0.0, 1.0),
}


@dataclass(frozen=True)
class PoolingWeights:
    """The pooling weights of a nested model, as graph inputs.

    Parameters
    ----------
    hierarchical
        1 for partial pooling, else 0: weight of the hierarchical site effects.
    independent
        1 for no pooling, else 0: weight of the independent site effects.
    independent_sd
        ``independent * sd``: the prior SD of the independent site effects, 0 unless no pooling.
    """

    hierarchical: pt.TensorVariable
    independent: pt.TensorVariable
    independent_sd: pt.TensorVariable


def pooling_weights(pooling: str, independent_sd: pt.TensorLike) -> PoolingWeights:
    """Add the weights of ``pooling`` to the current model as ``pm.Data``.

    Parameters
    ----------
    pooling
        ``"partial"``, ``"complete"`` or ``"none"``.
    independent_sd
        Prior SD of the no-pooling site effects (the model's prior data container), used only
        when ``pooling`` is ``"none"``.
    """
    if pooling not in _WEIGHTS:
        raise ValueError(f"unknown pooling {pooling!r}; choose one of {tuple(_WEIGHTS)}")
    hierarchical, independent = _WEIGHTS[pooling]
    independent_data = pm.Data(INDEPENDENT_DATA, independent)
    return PoolingWeights(
        hierarchical=pm.Data(HIERARCHICAL_DATA, hierarchical),
        independent=independent_data,
        independent_sd=independent_data * independent_sd,
    )


def prior_only_variables(
    model: pm.Model, pooling: str, *, line_intercept: str | None = None
) -> tuple[str, ...]:
    """Variables of a nested model that ``pooling``'s weights cut off from the likelihood.

    Parameters
    ----------
    model
        The nested model (only names it has are returned).
    pooling
        Its pooling.
    line_intercept
        Name of the line intercept when the no-pooling model lacks it (the binary model's
        ``mu``; the TTP model's no-pooling comparator keeps its ``mu``), else ``None``.

    Returns
    -------
    tuple of str
        Empty for partial pooling. Complete pooling: the whole site-effect hierarchy, ``u_site``
        included (it is 0). No pooling: the hierarchy's variables (``u_site`` is kept: it is the
        comparator's site effect) and ``line_intercept``.
    """
    if pooling == "partial":
        return ()
    names = ["tau", "z_site", "site_corr_pairs", "site_corr"]
    if pooling == "complete":
        names.append("u_site")
    elif line_intercept is not None:
        names.append(line_intercept)
    return tuple(name for name in names if name in model.named_vars)
