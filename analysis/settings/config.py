"""The analysis config: one TOML file describes a run; defaults need no file.

Example (every key optional)::

    [data]
    patients = ["patients.csv"]          # relative to the config file
    aggregates = ["counts.csv"]
    lines = ["ICI-1", "ICI-2"]

    [analysis]
    endpoints = ["response", "disease_control", "toxicity", "ttp"]
    pooling = "partial"                  # partial | complete | none
    patient_effect = false
    covariates = []                      # e.g. ["regimen_class"]
    covariate_effects = "shared"         # shared | per_line
    shared_shape = false                 # TTP: one Weibull shape for all lines
    comparators = true                   # fit complete and no pooling for LOO
    sensitivity = true                   # other heterogeneity priors (PSIS) + power-scaling
    map_robust_weight = 0.2              # vague-component weight of the exported MAP prior

    [ttp]
    families = ["weibull"]               # survival distributions; the first is the main model,
                                         # the others are compared with it; "all" for every one

    [benefit_risk]                       # the joint model of efficacy and grade 3-4 toxicity
    enabled = false                      # true: fitted beside the endpoints' own models
    efficacy = "response"                # or "disease_control" (also in [analysis] endpoints)
    safety = "toxicity"
    weights = {efficacy = 1.0, safety = 1.0}   # net benefit = w_eff x difference in efficacy
                                               #   - w_safety x difference in toxicity

    [priors.binary]                      # overrides by name; unknown names are an error
    tau_sd = 1.0
    [priors.ttp]
    tau_sd = 0.5
    [priors.benefit_risk]                # the joint model's (after [priors.binary], which its
    log_or_sd = 1.5                      # margins share)

    [sampler]
    backend = "nutpie"                   # nutpie | jax | pymc | auto
    chains = 4
    draws = 1000
    tune = 1000
    seed = 20230105
    target_accept = 0.9

    [interval]
    level = 0.95
    kind = "equal-tailed"                # equal-tailed | hdi

    [report]
    estimate = "median"                  # median | mean_sd: the point estimate of reader tables
    title = "ICI rechallenge in HCC: a Bayesian hierarchical analysis"   # main text's title
    authors = ["A. Author (1)", "B. Author (2)"]                       # title block, Word author
    affiliations = ["(1) First Institution", "(2) Second Institution"]

    [engine]                             # where the tasks run (not part of the results)
    scheduler = "tcp://10.0.0.5:8786"    # an existing Dask cluster; default: a local one
    workers = 2                          # local cluster: worker processes (default: one per core)

The resolved config (defaults filled in, paths absolute) is written into each run directory as
``config.toml``, so ``rechallenge analyze --config RUN/config.toml`` repeats the run exactly.
The ``[engine]`` section is left out of it: where tasks ran changes no number (the manifest
records it), and a cluster address of today need not exist when the run is repeated. The
``[benefit_risk]`` section is written only when it differs from its defaults, so a run that
does not use it writes the config it wrote before the section existed.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import tomli_w

from rechallenge.analysis.settings.config_checks import config_problems
from rechallenge.analysis.settings.intervals import Interval
from rechallenge.data import schema
from rechallenge.data.endpoints import BENEFIT_RISK
from rechallenge.data.files import file_problem
from rechallenge.models.dims import CovariateEffects, Pooling
from rechallenge.models.fit_settings import SamplerSettings
from rechallenge.models.survival import DISTRIBUTIONS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

#: Largest config file read (a config is a few kilobytes); a larger one is refused before it is
#: opened (docs/config.md).
MAX_CONFIG_BYTES: Final = 2**20


class ConfigError(ValueError):
    """The config file is missing, unreadable or has unknown or invalid entries.

    ``problems`` lists them one by one, each naming its section and key (the message holds them
    all, one per line, each after the file name).
    """

    def __init__(self, message: str, *, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems) or (message,)


@dataclass(frozen=True)
class DataConfig:
    """Input files and line order. No files means the shipped synthetic dataset."""

    patients: tuple[str, ...] = ()
    aggregates: tuple[str, ...] = ()
    lines: tuple[str, ...] = schema.DEFAULT_LINES
    #: Label the data as synthetic in every report (set automatically for the shipped dataset
    #: and for updates of a run of it).
    synthetic: bool = False


@dataclass(frozen=True)
class AnalysisConfig:
    """Which models to fit and how."""

    endpoints: tuple[str, ...] = schema.ENDPOINTS
    pooling: Pooling = "partial"
    patient_effect: bool = False
    covariates: tuple[str, ...] = ()
    covariate_effects: CovariateEffects = "shared"
    shared_shape: bool = False
    comparators: bool = True
    sensitivity: bool = True
    #: Weight of the vague component of the robust meta-analytic-predictive prior (map_prior.json).
    map_robust_weight: float = 0.2


@dataclass(frozen=True)
class TtpConfig:
    """The survival distributions of time to progression. ``families[0]`` is the TTP endpoint's
    model (its site table, forest plot, MAP prior and update); the others are fitted beside it
    and compared with it. ``horizons``: the restricted mean TTP is reported up to each.
    """

    families: tuple[str, ...] = ("weibull",)
    #: Horizons (months) of the restricted mean time to progression, in increasing order.
    horizons: tuple[float, ...] = (12.0, 24.0)


#: Point estimates a reader table can show (``[report] estimate``).
ESTIMATES: tuple[str, ...] = ("median", "mean_sd")


@dataclass(frozen=True)
class ReportConfig:
    """What the manuscript says about itself, and how its tables present a posterior.

    ``estimate``: the median (default) or mean +/- SD, each with the run's credible interval in
    the same cell. ``title``, ``authors`` and ``affiliations`` make the main text's title block
    (an empty title gives the package's own; no authors: none is named, and the Word files name
    the package as author).
    """

    estimate: str = "median"
    title: str = ""
    authors: tuple[str, ...] = ()
    affiliations: tuple[str, ...] = ()


#: The net benefit's weights by default: a difference in efficacy counts as much as one in
#: toxicity.
DEFAULT_WEIGHTS: Final[Mapping[str, float]] = {"efficacy": 1.0, "safety": 1.0}


@dataclass(frozen=True)
class BenefitRiskConfig:
    """The joint model of an efficacy and a safety endpoint (:mod:`rechallenge.models.joint`).

    When ``enabled``, the run fits it beside the endpoints' own models, as the endpoint
    ``"benefit_risk"``. ``weights`` (``efficacy``, ``safety``) make the net benefit: ``w_eff``
    times the difference in efficacy minus ``w_safety`` times the difference in toxicity.
    """

    enabled: bool = False
    efficacy: str = "response"
    safety: str = "toxicity"
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))


@dataclass(frozen=True)
class EngineConfig:
    """Where the run's tasks run (:mod:`rechallenge.analysis.run.engine`).

    ``scheduler``: address of an existing Dask scheduler; ``None`` starts a local cluster of
    ``workers`` processes (``None``: one per core, capped by ``RECHALLENGE_WORKERS``).
    """

    scheduler: str | None = None
    workers: int | None = None


@dataclass(frozen=True)
class RunConfig:
    """A whole analysis: data, models, priors, sampler and interval."""

    data: DataConfig = field(default_factory=DataConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    priors: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    sampler: SamplerSettings = field(default_factory=SamplerSettings)
    interval: Interval = field(default_factory=Interval)
    report: ReportConfig = field(default_factory=ReportConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    ttp: TtpConfig = field(default_factory=TtpConfig)
    benefit_risk: BenefitRiskConfig = field(default_factory=BenefitRiskConfig)

    @property
    def run_endpoints(self) -> tuple[str, ...]:
        """The endpoints a run fits and reports: ``[analysis] endpoints``, then the joint
        benefit-risk endpoint when ``[benefit_risk]`` enables it.
        """
        joint = (BENEFIT_RISK,) if self.benefit_risk.enabled else ()
        return tuple(dict.fromkeys((*self.analysis.endpoints, *joint)))

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (TOML-writable); ``benefit_risk`` only when not the default."""
        joint = ({} if self.benefit_risk == BenefitRiskConfig()
                 else {"benefit_risk": asdict(self.benefit_risk)})
        return {
            "data": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.data).items()},
            "analysis": {
                k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.analysis).items()
            },
            "priors": {family: dict(values) for family, values in self.priors.items()},
            "sampler": asdict(self.sampler),
            "interval": asdict(self.interval),
            "report": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.report).items()},
            "ttp": {"families": list(self.ttp.families), "horizons": list(self.ttp.horizons)},
            **joint,
        }

    def to_toml(self) -> str:
        """TOML text of the resolved config."""
        return tomli_w.dumps(self.to_dict())

    def with_sampler(self, **changes: Any) -> RunConfig:
        """Copy with sampler settings changed (e.g. from command-line flags)."""
        return replace(self, sampler=replace(self.sampler, **changes))

    def with_scheduler(self, scheduler: str | None) -> RunConfig:
        """Copy that runs on the Dask cluster at ``scheduler`` (``None``: unchanged)."""
        if scheduler is None:
            return self
        return replace(self, engine=replace(self.engine, scheduler=scheduler))


def _section(raw: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A checked TOML table as dataclass arguments: lists become tuples."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in raw.get(name, {}).items()}


def parse_config(raw: Mapping[str, Any], *, source: str = "<config>", base: Path | None = None) -> RunConfig:
    """Build a :class:`RunConfig` from a parsed TOML mapping, checking every key and value.

    Every problem is found before any is raised (see
    :func:`~rechallenge.analysis.settings.config_checks.config_problems`).

    Parameters
    ----------
    raw
        Parsed TOML.
    source
        Name used in error messages (the file).
    base
        Directory that relative data paths are resolved against (the config file's directory).
    """
    problems = config_problems(raw)
    if problems:
        raise ConfigError("\n".join(f"{source}: {p}" for p in problems), problems=problems)
    data = DataConfig(**_section(raw, "data"))
    if base is not None:
        data = replace(
            data,
            patients=tuple(str((base / p).resolve()) for p in data.patients),
            aggregates=tuple(str((base / p).resolve()) for p in data.aggregates),
        )
    priors = raw.get("priors", {})
    ttp = _section(raw, "ttp")
    if ttp.get("families") == "all":
        ttp["families"] = tuple(DISTRIBUTIONS)
    if "horizons" in ttp:
        ttp["horizons"] = tuple(float(h) for h in ttp["horizons"])
    joint = _section(raw, "benefit_risk")
    joint["weights"] = {k: float(v) for k, v in {**DEFAULT_WEIGHTS,
                                                 **joint.get("weights", {})}.items()}
    return RunConfig(data, AnalysisConfig(**_section(raw, "analysis")),
                     {k: dict(v) for k, v in priors.items()},
                     SamplerSettings(**_section(raw, "sampler")),
                     Interval(**_section(raw, "interval")),
                     ReportConfig(**_section(raw, "report")),
                     EngineConfig(**_section(raw, "engine")),
                     TtpConfig(**ttp), BenefitRiskConfig(**joint))


def load_config(path: str | Path | None) -> RunConfig:
    """Read and check a TOML config; ``None`` gives the defaults."""
    if path is None:
        return RunConfig()
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    # A FIFO, a device or a directory is refused before it is opened, and so is a huge file.
    refused = file_problem(path, max_bytes=MAX_CONFIG_BYTES)
    if refused is not None:
        raise ConfigError(f"{path}: expected {refused}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse_config(raw, source=str(path), base=path.parent)
