"""The JSON record of a run's MAP priors (``map_prior.json``): per endpoint and line the fitted
mixture, its robustified version, effective sample sizes and a check of the fit against the
draws; and reading it back, every part of its shape checked (a hand-edited file is a message
naming the key, what was expected and what was found, never a ``KeyError``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from rechallenge.analysis.map_prior.mixtures import BetaMixture, NormalMixture
from rechallenge.analysis.settings.intervals import DEFAULT_INTERVAL, Interval
from rechallenge.analysis.settings.json_files import parse_json

#: Identifies the JSON written by :func:`map_prior_json`; bump the version on any change.
MAP_PRIOR_FORMAT = "rechallenge-map-prior"
MAP_PRIOR_VERSION = 1
#: Most components a recorded mixture may have: EM fits at most a handful (plus the robust one).
MAX_COMPONENTS = 20
#: Range of the Beta shape parameters read back. The EM fit never goes below 1e-3 (its lower
#: bound); ``a + b`` is about the prior's effective sample size, and a million patients is far
#: past any meta-analysis. Outside it the arithmetic only overflows or loses all precision.
BETA_PARAMETER_RANGE = (1e-3, 1e6)
#: At most this many problems are listed; the count of the rest is given.
MAX_PROBLEMS_LISTED = 20


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


class MapPriorFormatError(ValueError):
    """A ``map_prior.json`` value of the wrong shape; ``problems`` lists each key that is wrong.

    Each problem reads ``key path: expected ..., found ...``.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        shown = self.problems[:MAX_PROBLEMS_LISTED]
        more = len(self.problems) - len(shown)
        super().__init__(f"not a {MAP_PRIOR_FORMAT} version {MAP_PRIOR_VERSION} record:\n  "
                         + "\n  ".join(shown)
                         + (f"\n  ... and {more} more problem(s)" if more > 0 else ""))


def _found(value: Any) -> str:
    """What a JSON value is, in JSON's words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, int | float):
        text = repr(value)
        return f"the number {text if len(text) <= 24 else text[:21] + '...'}"
    if isinstance(value, str):
        return f"the string {json.dumps(value[:40])}{'...' if len(value) > 40 else ''}"
    if isinstance(value, list):
        return f"a list ({len(value)} item{'s' if len(value) != 1 else ''})"
    return "an object"


def _key(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if re.fullmatch(r"[A-Za-z0-9_-]+", key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class _Checker:
    """Collects ``key path: expected ..., found ...`` problems of a parsed record."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def expect(self, ok: bool, path: str, expected: str, value: Any) -> bool:
        if not ok:
            self.problems.append(f"{path or '(the whole file)'}: expected {expected}, "
                                 f"found {_found(value)}")
        return ok

    def object(self, parent: Any, path: str, key: str) -> Any:
        """``parent[key]`` if it is an object, else ``None`` (a problem recorded)."""
        where = _key(path, key)
        if key not in parent:
            self.problems.append(f"{where}: expected an object, found nothing (key missing)")
            return None
        return parent[key] if self.expect(isinstance(parent[key], dict), where, "an object",
                                          parent[key]) else None

    def numbers(self, parent: dict, path: str, keys: Sequence[str], expected: str = "a finite "
                "number") -> None:
        for key in keys:
            where = _key(path, key)
            if key not in parent:
                self.problems.append(f"{where}: expected {expected}, found nothing (key missing)")
            else:
                self.expect(_number(parent[key]), where, expected, parent[key])

    def mixture(self, entry: dict, path: str, key: str) -> None:
        before = len(self.problems)
        mix = self.object(entry, path, key)
        if mix is None:
            return
        where = _key(path, key)
        classes = {cls.family: cls for cls in (BetaMixture, NormalMixture)}
        family = mix.get("family")
        if not self.expect(family in classes, _key(where, "family"),
                           f"one of {', '.join(map(json.dumps, classes))}", family):
            return
        cls = classes[family]
        lengths = set()
        for name in ("weights", *cls._params):
            values = mix.get(name)
            ok = (isinstance(values, list) and 0 < len(values) <= MAX_COMPONENTS
                  and all(_number(v) for v in values))
            if self.expect(ok, _key(where, name), f"a list of 1 to {MAX_COMPONENTS} finite "
                           "numbers", values):
                lengths.add(len(values))
        if len(self.problems) > before or len(lengths) != 1:
            self.expect(len(lengths) <= 1, where, "weights and parameters of equal length",
                        mix)
            return
        if family == BetaMixture.family:
            low, high = BETA_PARAMETER_RANGE
            for name in ("a", "b"):
                for i, value in enumerate(mix[name]):
                    self.expect(low <= value <= high, _key(_key(where, name), i),
                                f"a Beta parameter from {low:g} to {high:g}", value)
        try:
            entry[key] = cls.from_dict(mix)
        except ValueError as exc:  # negative parameters, weights not summing to 1, ...
            self.problems.append(f"{where}: expected a valid {family} mixture ({exc})")

    def entry(self, entry: dict, path: str) -> None:
        for key in ("mixture", "robust_mixture"):
            self.mixture(entry, path, key)
        self.numbers(entry, path, ["robust_weight"])
        if _number(entry.get("robust_weight")):
            self.expect(0 < entry["robust_weight"] < 1, _key(path, "robust_weight"),
                        "a number between 0 and 1", entry["robust_weight"])
        for key in ("ess", "robust_ess"):
            ess = self.object(entry, path, key)
            if ess is not None:
                self.numbers(ess, _key(path, key), ["elir", "moment"])


def map_prior_from_json(record: Any) -> dict[str, Any]:
    """A parsed ``map_prior.json`` value, checked; ``mixture`` and ``robust_mixture`` become
    :class:`BetaMixture` or :class:`NormalMixture` objects.

    Raises
    ------
    MapPriorFormatError
        Listing every key of the wrong type, missing or out of range (key path, what was
        expected, what was found).
    """
    check = _Checker()
    if not check.expect(isinstance(record, dict), "", "an object", record):
        raise MapPriorFormatError(check.problems)
    check.expect(record.get("format") == MAP_PRIOR_FORMAT, "format",
                 json.dumps(MAP_PRIOR_FORMAT), record.get("format"))
    check.expect(record.get("version") == MAP_PRIOR_VERSION and not isinstance(
        record.get("version"), bool), "version", str(MAP_PRIOR_VERSION), record.get("version"))
    check.expect(isinstance(record.get("source_run_hash"), str), "source_run_hash",
                 "a string", record.get("source_run_hash"))
    check.object(record, "", "endpoint_info")
    if check.problems:  # not this format at all: the rest would only repeat it
        raise MapPriorFormatError(check.problems)
    endpoints = check.object(record, "", "endpoints")
    for endpoint, lines in (endpoints or {}).items():
        where = _key("endpoints", endpoint)
        if not check.expect(isinstance(lines, dict) and bool(lines), where,
                            "an object of lines (not empty)", lines):
            continue
        for line, entry in lines.items():
            if check.expect(isinstance(entry, dict), _key(where, line), "an object", entry):
                check.entry(entry, _key(where, line))
    if check.problems:
        raise MapPriorFormatError(check.problems)
    return record


def load_map_prior(text: str, source: str = "map_prior.json") -> dict[str, Any]:
    """Read :func:`map_prior_json` output; ``mixture`` and ``robust_mixture`` become objects.

    Parameters
    ----------
    text
        The file's text.
    source
        Where it was read from, for the messages.

    Raises
    ------
    JSONFileError
        Not JSON, or nested too deeply (:func:`~rechallenge.analysis.settings.json_files.parse_json`).
    MapPriorFormatError
        JSON of the wrong shape (see :func:`map_prior_from_json`).
    """
    return map_prior_from_json(parse_json(text, source))
