"""Check a parsed config file key by key, naming each bad key, before any object is built.

:func:`config_problems` finds every problem of a config at once: unknown sections and keys, wrong
types (a string where a list, a whole number or a boolean is expected: TOML's ``"false"`` is a
string, and a non-empty string would otherwise count as true), values out of range, unknown
endpoints, and prior names and values the models would refuse. Each problem reads
``[section] key: expected ..., got ...``. :func:`rechallenge.analysis.settings.config.parse_config` runs it
first, so ``analyze`` and ``validate --config`` refuse the same configs with the same messages.
Whether the covariates are usable columns of the data is checked with the data, by
:func:`covariate_problems`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import pandas as pd

from rechallenge.data import line_label_problems, schema
from rechallenge.data.endpoints import endpoints_of_kind, registered_endpoints
from rechallenge.models.binary import BINARY_PRIORS
from rechallenge.models.design import covariate_design
from rechallenge.models.fit_settings import BACKENDS
from rechallenge.models.joint_priors import JOINT_PRIORS
from rechallenge.models.priors import PriorDefault
from rechallenge.models.survival import DISTRIBUTIONS
from rechallenge.models.ttp import ttp_priors

#: A check takes a value and returns what was expected, or ``None`` when the value is fine.
Check = Callable[[Any], "str | None"]


def _is_number(value: Any) -> bool:
    # TOML booleans are Python bools, which are ints: `true` is no number here.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole(minimum: int) -> Check:
    def check(value: Any) -> str | None:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
        return None if ok else f"a whole number >= {minimum}"
    return check


def _number(test: Callable[[float], bool], expected: str) -> Check:
    def check(value: Any) -> str | None:
        ok = _is_number(value) and math.isfinite(value) and test(float(value))
        return None if ok else expected
    return check


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false (without quotes)"


def _text(value: Any) -> str | None:
    # One line of visible text: a title goes into a heading and the Word file's properties.
    if isinstance(value, str) and value.isprintable() and len(value) <= 300:
        return None
    return "one line of text of at most 300 characters"


#: Horizons of the restricted mean TTP: within the follow-up a study of this kind can have.
MAX_HORIZON_MONTHS = 120.0
MAX_HORIZONS = 4


def _horizons(value: Any) -> str | None:
    ok = (isinstance(value, list) and 0 < len(value) <= MAX_HORIZONS
          and all(_is_number(v) and 0 < float(v) <= MAX_HORIZON_MONTHS for v in value)
          and all(float(a) < float(b) for a, b in zip(value, value[1:])))
    return None if ok else (f"a list of 1 to {MAX_HORIZONS} increasing numbers of months, each "
                            f"above 0 and at most {MAX_HORIZON_MONTHS:g}, e.g. [12, 24]")


def _choice(choices: tuple[str, ...]) -> Check:
    def check(value: Any) -> str | None:
        return None if isinstance(value, str) and value in choices else "one of " + ", ".join(
            json.dumps(c) for c in choices)
    return check


def scheduler_address_problem(value: Any) -> str | None:
    """What a scheduler address should look like, or ``None`` if ``value`` is one."""
    # A Dask address: protocol, host and port (tcp://10.0.0.5:8786); a scheduler file or an
    # address without protocol is refused here rather than by a timeout at run time.
    expected = 'a Dask scheduler address such as "tcp://10.0.0.5:8786"'
    if not isinstance(value, str) or "://" not in value:
        return expected
    protocol, _, rest = value.partition("://")
    host, _, port = rest.rpartition(":")
    if protocol not in ("tcp", "tls", "ws", "wss", "inproc", "ucx") or not host or not (
            port.isdigit() and 0 < int(port) < 65536):
        return expected
    return None


def _strings(*, choices: tuple[str, ...] | Callable[[], tuple[str, ...]] = (), noun: str = "",
             non_empty: bool = False, distinct: bool = False, example: str = '["..."]') -> Check:
    # ``choices`` may be a function: the endpoints are read from the registry when checked.
    def check(value: Any) -> str | None:
        known = choices() if callable(choices) else choices
        what = "a non-empty list" if non_empty else "a list"
        what += f" of {'distinct ' if distinct else ''}strings, e.g. {example}"
        if not (isinstance(value, list) and all(isinstance(v, str) and v for v in value)):
            return what
        unknown = [v for v in value if known and v not in known]
        if unknown:
            return (f"only known {noun}s ({', '.join(known)}); "
                    f"unknown {noun}(s) {show(unknown)}")
        if (non_empty and not value) or (distinct and len(set(value)) != len(value)):
            return what
        return None
    return check


def _analysed_endpoints() -> tuple[str, ...]:
    # The endpoints with rows of their own; a joint endpoint is enabled by its own section.
    return tuple(e for e in registered_endpoints() if e not in endpoints_of_kind("joint"))


def _endpoints(value: Any) -> str | None:
    joint = [v for v in value if v in endpoints_of_kind("joint")] if isinstance(value, list) else []
    if joint:
        return (f"endpoints with rows of their own ({', '.join(_analysed_endpoints())}); "
                f"{show(joint)} is fitted when [benefit_risk] enabled = true")
    return _strings(choices=_analysed_endpoints, noun="endpoint", non_empty=True,
                    example='["response", "ttp"]')(value)


def _binary_endpoint(value: Any) -> str | None:
    # Read from the registry when checked: a registered binary endpoint may be either outcome.
    known = endpoints_of_kind("binary")
    return None if isinstance(value, str) and value in known else (
        "one of the binary endpoints " + ", ".join(json.dumps(e) for e in known))


#: The net benefit's weights: one per outcome of the joint model.
WEIGHT_KEYS: Final = ("efficacy", "safety")


def _weights(value: Any) -> str | None:
    expected = ("a table of weights >= 0, not both 0, e.g. {efficacy = 1.0, safety = 1.0} "
                "(a weight left out is 1)")
    if not isinstance(value, Mapping) or set(value) - set(WEIGHT_KEYS):
        return expected
    if not all(_is_number(v) and math.isfinite(v) and v >= 0 for v in value.values()):
        return expected
    return expected if all(float(value.get(k, 1.0)) == 0 for k in WEIGHT_KEYS) else None


def _line_labels(value: Any) -> str | None:
    # Line labels are labels: the rules of the data's label cells (rechallenge.data).
    listed = _strings(non_empty=True, distinct=True, example='["ICI-1", "ICI-2"]')(value)
    if listed is not None:
        return listed
    problems = line_label_problems(value)
    if not problems:
        return None
    return (f"visible labels of at most {schema.MAX_LABEL_LENGTH} characters, without control or "
            f"invisible characters, distinct ignoring case ({'; '.join(problems)})")


#: Every key of every section and how its value is checked (the dataclasses' fields in
#: :mod:`rechallenge.analysis.settings.config` and :class:`rechallenge.models.fit_settings.SamplerSettings`).
SECTIONS: Final[dict[str, dict[str, Check]]] = {
    "data": {
        "patients": _strings(example='["patients.csv"]'),
        "aggregates": _strings(example='["counts.csv"]'),
        "lines": _line_labels,
        "synthetic": _boolean,
    },
    "analysis": {
        "endpoints": _endpoints,
        "pooling": _choice(("partial", "complete", "none")),
        "patient_effect": _boolean,
        "covariates": _strings(distinct=True, example='["regimen_class"]'),
        "covariate_effects": _choice(("shared", "per_line")),
        "shared_shape": _boolean,
        "comparators": _boolean,
        "sensitivity": _boolean,
        "map_robust_weight": _number(lambda v: 0 <= v < 1, "a number in [0, 1)"),
    },
    "sampler": {
        "draws": _whole(1), "tune": _whole(0), "chains": _whole(1), "seed": _whole(0),
        "backend": _choice(BACKENDS),
        "target_accept": _number(lambda v: 0.5 <= v < 1, "a number in [0.5, 1)"),
        "prior_draws": _whole(1),
    },
    "engine": {
        "scheduler": scheduler_address_problem,
        "workers": _whole(1),
    },
    "interval": {
        "level": _number(lambda v: 0 < v < 1, "a number between 0 and 1 (e.g. 0.95)"),
        "kind": _choice(("equal-tailed", "hdi")),
    },
    "ttp": {
        "families": lambda v: None if v == "all" else _strings(
            choices=tuple(DISTRIBUTIONS), noun="survival distribution", non_empty=True,
            distinct=True, example='["weibull", "lognormal"]')(v),
        "horizons": _horizons,
    },
    "benefit_risk": {
        "enabled": _boolean,
        "efficacy": _binary_endpoint,
        "safety": _binary_endpoint,
        "weights": _weights,
    },
    "report": {
        # Kept in step with rechallenge.analysis.settings.config.ESTIMATES (a test checks).
        "estimate": _choice(("median", "mean_sd")),
        "title": _text,
        "authors": _strings(distinct=True, example='["A. Author", "B. Author"]'),
        "affiliations": _strings(distinct=True, example='["1 Medical University of Vienna"]'),
    },
}
#: The prior names of each model family, with their defaults (``[priors.binary]``, ...).
PRIOR_FAMILIES: Final[dict[str, Mapping[str, PriorDefault]]] = {
    # [priors.ttp] holds the priors of every survival distribution (each fit reads its own).
    "binary": BINARY_PRIORS, "ttp": {k: v for d in DISTRIBUTIONS for k, v in ttp_priors(d).items()},
    # The joint model's; its margins take [priors.binary] first (analysis/families/benefit_risk.py).
    "benefit_risk": JOINT_PRIORS,
}
#: Prior names of earlier versions and their names now (one name per concept in every model).
#: Not aliases: a config with an old name is refused, with the new name in the message. The TTP
#: ``beta_sd`` is not listed: it is a name today too (the covariate coefficients' prior; it was the
#: line intercept's, now ``mu_sd``).
RENAMED_PRIORS: Final[dict[str, dict[str, str]]] = {
    "binary": {"no_pooling_sd": "site_effect_sd"},
    "ttp": {"beta_mu": "mu_mean", "frailty_sd": "sigma_patient_sd", "covariate_sd": "beta_sd"},
}


def show(value: Any) -> str:
    """A config value as TOML would write it, shortened: ``"abc"``, ``true``, ``[1, 2]``."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, list):
        text = "[" + ", ".join(show(v) for v in value) + "]"
    elif isinstance(value, Mapping):  # an inline table, as written: {efficacy = 1.0, ...}
        text = "{" + ", ".join(f"{k} = {show(v)}" for k, v in value.items()) + "}"
    else:
        text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def config_problems(raw: Mapping[str, Any]) -> list[str]:
    """Every problem of a parsed TOML config, each naming its section and key.

    Parameters
    ----------
    raw
        The parsed TOML (``tomllib.loads``).

    Returns
    -------
    list of str
        E.g. ``'[sampler] seed: expected a whole number >= 0, got "abc"'``; empty if the config
        is usable.
    """
    problems: list[str] = []
    known = [*SECTIONS, "priors"]
    for name in sorted(set(raw) - set(known)):
        problems.append(f"[{name}]: unknown section; expected one of {', '.join(known)}")
    for name, checks in SECTIONS.items():
        table = raw.get(name, {})
        if not isinstance(table, Mapping):
            problems.append(f"{name}: expected a table [{name}], got {show(table)}")
            continue
        for key, value in table.items():
            check = checks.get(key)
            if check is None:
                problems.append(f"[{name}] {key}: unknown key; allowed: {', '.join(checks)}")
            elif (expected := check(value)) is not None:
                problems.append(f"[{name}] {key}: expected {expected}, got {show(value)}")
    problems += _prior_problems(raw.get("priors", {}))
    problems += _benefit_risk_problems(raw)
    return problems


def _benefit_risk_problems(raw: Mapping[str, Any]) -> list[str]:
    """What an enabled ``[benefit_risk]`` needs of the rest of the config: two different
    outcomes, each also analysed on its own (``[analysis] endpoints``), and partial pooling.
    Keys that are wrong in themselves are reported by their own checks, not again here.
    """
    section, analysis = raw.get("benefit_risk", {}), raw.get("analysis", {})
    if not (isinstance(section, Mapping) and section.get("enabled") is True
            and isinstance(analysis, Mapping)):
        return []
    problems = []
    outcomes = {"efficacy": section.get("efficacy", "response"),
                "safety": section.get("safety", "toxicity")}
    if outcomes["efficacy"] == outcomes["safety"]:
        problems.append(f"[benefit_risk] safety: expected an endpoint other than the efficacy "
                        f"endpoint, got {show(outcomes['safety'])} for both")
    endpoints = analysis.get("endpoints", list(schema.ENDPOINTS))
    for role, endpoint in outcomes.items():
        if (isinstance(endpoints, list) and _binary_endpoint(endpoint) is None
                and endpoint not in endpoints):
            problems.append(f"[benefit_risk] {role}: {show(endpoint)} must also be in [analysis] "
                            f"endpoints (the joint model is reported beside each outcome's own "
                            f"model), got endpoints {show(endpoints)}")
    pooling = analysis.get("pooling", "partial")
    if pooling != "partial" and isinstance(pooling, str):
        problems.append(f"[benefit_risk] enabled: the joint model pools sites partially only; "
                        f'expected [analysis] pooling = "partial", got {show(pooling)}')
    return problems


def _prior_problems(priors: Any) -> list[str]:
    """Prior families, names and values, checked as the models check them."""
    if not isinstance(priors, Mapping):
        return [f"priors: expected tables such as [priors.binary] and [priors.ttp], got "
                f"{show(priors)}"]
    problems = []
    for family, values in priors.items():
        defaults = PRIOR_FAMILIES.get(family)
        if defaults is None:
            problems.append(f"[priors.{family}]: unknown prior family; use "
                            + ", ".join(f"[priors.{known}]" for known in PRIOR_FAMILIES))
            continue
        if not isinstance(values, Mapping):
            problems.append(f"priors {family}: expected a table [priors.{family}], "
                            f"got {show(values)}")
            continue
        for name, value in values.items():
            default = defaults.get(name)
            if default is None:
                renamed = RENAMED_PRIORS.get(family, {}).get(name)
                hint = (f"renamed {renamed}" if renamed is not None
                        else f"valid names: {', '.join(sorted(defaults))}")
                problems.append(f"[priors.{family}] {name}: unknown prior name; {hint}")
                continue
            positive = default.positive
            ok = _is_number(value) and math.isfinite(value) and (not positive or value > 0)
            if not ok:
                expected = "a finite number > 0" if positive else "a finite number"
                problems.append(f"[priors.{family}] {name}: expected {expected}, got {show(value)}")
    return problems


def covariate_problems(patients: pd.DataFrame, covariates: Sequence[str]) -> list[str]:
    """``[analysis] covariates`` problems: each covariate the models would refuse for these data.

    Parameters
    ----------
    patients
        The validated patient rows (``Study.patients``).
    covariates
        ``[analysis] covariates`` of the config.

    Returns
    -------
    list of str
        One problem per unusable covariate (not a column, missing values, a single level), as
        the model builders word it (:func:`rechallenge.models.design.covariate_design`).
    """
    problems = []
    for covariate in covariates:
        try:
            covariate_design(patients, [covariate])
        except ValueError as exc:
            problems.append(f"[analysis] covariates: {exc}")
    return problems
