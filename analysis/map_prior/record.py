"""The JSON record of a run's MAP priors (``map_prior.json``): per endpoint and line the fitted
mixture, its robustified version, effective sample sizes and a check of the fit against the
draws; and reading it back.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from rechallenge.analysis.map_prior.mixtures import BetaMixture, NormalMixture
from rechallenge.analysis.settings.intervals import DEFAULT_INTERVAL, Interval

#: Identifies the JSON written by :func:`map_prior_json`; bump the version on any change.
MAP_PRIOR_FORMAT = "rechallenge-map-prior"
MAP_PRIOR_VERSION = 1


def map_prior_entry(mixture: BetaMixture | NormalMixture, draws: np.ndarray, *,
                    robust_weight: float, vague: tuple[float, float] = (1.0, 1.0),
                    robust_scale: float = 1.0,
                    interval: Interval = DEFAULT_INTERVAL) -> dict[str, Any]:
    """The JSON-ready record of one endpoint and line.

    Parameters
    ----------
    mixture
        The fitted, non-robust mixture.
    draws
        The predictive draws it was fitted to; their mean and interval are recorded beside the
        mixture's, so that a reader can check the approximation.
    robust_weight
        Weight of the vague component.
    vague, robust_scale
        The vague component: ``Beta(*vague)`` for a Beta mixture; ``Normal(mixture mean,
        robust_scale)`` for a normal mixture, whose ESS is also relative to ``robust_scale``.
    interval
        Only the level is used: the check is equal-tailed, as a mixture's quantiles give.
    """
    beta = isinstance(mixture, BetaMixture)
    robust: BetaMixture | NormalMixture
    if isinstance(mixture, BetaMixture):
        robust = mixture.robustify(robust_weight, vague)
    else:
        robust = mixture.robustify(robust_weight, robust_scale)

    def ess(mix: BetaMixture | NormalMixture) -> dict[str, float]:
        extra = {} if beta else {"sigma": robust_scale}
        return {m: float(mix.ess(m, **extra)) for m in ("elir", "moment")}

    x = np.asarray(draws, dtype=float).ravel()
    et = Interval(interval.level, "equal-tailed")
    lo, hi = et.bounds(x)
    fit_lo, fit_hi = mixture.interval(et.level)
    return {
        "mixture": mixture.to_dict(), "ess": ess(mixture),
        "robust_weight": float(robust_weight),
        "robust_component": ({"a": float(vague[0]), "b": float(vague[1])} if beta
                             else {"loc": robust.loc[-1] if isinstance(robust, NormalMixture)
                                   else None, "scale": float(robust_scale)}),
        "robust_mixture": robust.to_dict(), "robust_ess": ess(robust),
        "check": {"interval": et.short, "level": et.level,
                  "draws": {"n": int(x.size), "mean": float(x.mean()), "lower": lo, "upper": hi},
                  "mixture": {"mean": mixture.mean(), "lower": fit_lo, "upper": fit_hi}},
    }


def map_prior_json(mixtures: dict[str, dict], *, source_run_hash: str,
                   endpoint_info: dict) -> str:
    """Serialise MAP priors; ``mixtures[endpoint][line]`` is a :func:`map_prior_entry` record.

    ``endpoint_info[endpoint]`` (scale, units, family, ...) is recorded verbatim and must exist
    for every endpoint; ``source_run_hash`` names the run whose predictive draws were used.
    """
    missing = sorted(set(mixtures) - set(endpoint_info))
    if missing:
        raise ValueError(f"endpoint_info lacks {missing}")
    for endpoint, lines in mixtures.items():
        for line, entry in lines.items():
            if not {"mixture", "robust_mixture", "ess", "check"} <= set(entry):
                raise ValueError(f"{endpoint}/{line} is not a map_prior_entry() record")
    record = {"format": MAP_PRIOR_FORMAT, "version": MAP_PRIOR_VERSION,
              "source_run_hash": source_run_hash, "endpoint_info": endpoint_info,
              "endpoints": mixtures}
    return json.dumps(record, indent=2, allow_nan=False)


def load_map_prior(text: str) -> dict[str, Any]:
    """Read :func:`map_prior_json` output; ``mixture`` and ``robust_mixture`` become objects."""
    record = json.loads(text)
    if record.get("format") != MAP_PRIOR_FORMAT or record.get("version") != MAP_PRIOR_VERSION:
        raise ValueError(f"not a {MAP_PRIOR_FORMAT} version {MAP_PRIOR_VERSION} record")
    classes = {cls.family: cls for cls in (BetaMixture, NormalMixture)}
    for lines in record["endpoints"].values():
        for entry in lines.values():
            for key in ("mixture", "robust_mixture"):
                entry[key] = classes[entry[key]["family"]].from_dict(entry[key])
    return record
