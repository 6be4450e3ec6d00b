"""The MAP prior in RBesT's mixture JSON layout, so that ``RBesT::read_mix_json()`` reads it.

RBesT (R/mixjson.R) writes a mixture with ``jsonlite::toJSON(list(meta = attributes(mix),
comp = unclass(mix)))`` and reads it back with ``jsonlite::fromJSON`` and
``attributes(mix) <- meta``. A mixture is a 3 x K matrix, one column per component: rows
``w, a, b`` for a Beta mixture (class ``betaMix``, likelihood ``binomial``) and ``w, m, s`` for a
normal mixture (class ``normMix``, likelihood ``normal``, attribute ``sigma``: the reference
scale of its effective sample size); attribute ``link`` is the name of its link (``identity``).

One departure from the bytes ``write_mix_json`` would write: ``dimnames`` is written as a JSON
object (a named list in R) rather than an array of two arrays. With three components both of
its vectors have length 3, and ``fromJSON`` would simplify the array into a 2 x 3 character
matrix, which ``attributes<-`` refuses (``dimnames`` must be a list); a named list is read as a
list whatever the number of components, and is valid ``dimnames``.
"""

from __future__ import annotations

import json
from typing import Any, Final

from rechallenge.analysis.map_prior.mixtures import BetaMixture, NormalMixture
from rechallenge.analysis.settings.file_names import safe_file_stems

#: Directory of the run that holds one RBesT file per endpoint and line.
RBEST_DIR: Final = "map_prior_rbest"


def component_names(k: int, *, robust: bool) -> list[str]:
    """``["map1", ..., "robust"]``: the last component is the vague one of a robust prior."""
    informative = k - 1 if robust else k
    return [f"map{i + 1}" for i in range(informative)] + (["robust"] if robust else [])


def rbest_mixture(mixture: BetaMixture | NormalMixture, *, sigma: float | None = None,
                  robust: bool = False) -> dict[str, Any]:
    """A mixture as the ``list(meta = ..., comp = ...)`` that ``write_mix_json`` serialises.

    Parameters
    ----------
    mixture
        A Beta or normal mixture.
    sigma
        Normal mixtures: the reference (unit-information) scale, RBesT's ``sigma(mix)``.
    robust
        Whether the last component is the vague one (named ``robust``).

    Returns
    -------
    dict
        JSON-ready; ``comp`` row-major (jsonlite's default for a matrix), scalars as length-1
        arrays (jsonlite's default ``auto_unbox = FALSE``).
    """
    beta = isinstance(mixture, BetaMixture)
    k = mixture.n_components
    rows = ["w", "a", "b"] if beta else ["w", "m", "s"]
    params = ((mixture.a, mixture.b) if isinstance(mixture, BetaMixture)
              else (mixture.loc, mixture.scale))
    meta: dict[str, Any] = {
        "dim": [3, k],
        "dimnames": {"parameter": rows, "component": component_names(k, robust=robust)},
        "link": ["identity"],
    }
    if not beta:
        if sigma is None or not sigma > 0:
            raise ValueError("a normal mixture needs its reference scale sigma > 0")
        meta["sigma"] = [float(sigma)]
    meta["class"] = ["betaMix", "mix"] if beta else ["normMix", "mix"]
    meta["likelihood"] = ["binomial" if beta else "normal"]
    comp = [[float(v) for v in mixture.weights], *([float(v) for v in p] for p in params)]
    return {"meta": meta, "comp": comp}


def rbest_file_names(record: dict[str, Any]) -> dict[tuple[str, str], str]:
    """The file name of each endpoint and line of a MAP prior record: ``<endpoint>_<line>.json``.

    A line label is data and may hold any character (``2nd|<i>line</i>``, ``../x``): the stem
    goes through :func:`~rechallenge.analysis.settings.file_names.safe_file_stems`, so a label
    that is not a plain name gets a slug with a short hash (``response_2nd-i-line-i-072607a4``)
    and no two entries share a file. The run records the mapping (``tables/map_prior.csv``).
    """
    keys = [(endpoint, line) for endpoint, lines in record["endpoints"].items() for line in lines]
    stems = safe_file_stems(f"{endpoint}_{line}" for endpoint, line in keys)
    return {(endpoint, line): stems[f"{endpoint}_{line}"] + ".json" for endpoint, line in keys}


def rbest_files(record: dict[str, Any]) -> dict[str, str]:
    """``{file name: JSON text}`` for every entry of a MAP prior record.

    ``record`` is the parsed ``map_prior.json``; each file holds the robust mixture (the prior
    the report describes), normal mixtures with the record's robust scale as ``sigma``. The
    file names are those of :func:`rbest_file_names` (``<endpoint>_<line>.json`` for plain
    labels).
    """
    names = rbest_file_names(record)
    out: dict[str, str] = {}
    for endpoint, lines in record["endpoints"].items():
        for line, entry in lines.items():
            robust = entry["robust_mixture"]
            if robust["family"] == "beta":
                mixture: BetaMixture | NormalMixture = BetaMixture.from_dict(robust)
                sigma = None
            else:
                mixture = NormalMixture.from_dict(robust)
                sigma = float(entry["robust_component"]["scale"])
            body = rbest_mixture(mixture, sigma=sigma, robust=entry["robust_weight"] > 0)
            out[names[endpoint, line]] = json.dumps(body, indent=2, allow_nan=False) + "\n"
    return out
