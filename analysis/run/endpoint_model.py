"""One endpoint's model from a script: build, fit, summarise, plot, save and load.

In the style of bambi and PyMC-Marketing::

    from rechallenge.analysis import EndpointModel
    from rechallenge.data import example_study

    model = EndpointModel(example_study(), "response")
    model.fit(draws=1000, chains=4, seed=1)
    model.summary()            # pooled, typical-site, new-site, contrasts
    model.plot_forest()
    model.save("response.nc")
    again = EndpointModel.load("response.nc", example_study())

The model is the one a run fits as the endpoint's main model (:func:`~rechallenge.analysis.run.
fitting.build_model`, with the config's options), sampled with the config's sampler settings
and the groups of a run's main fit, and summarised by the functions of the run's tables. With a
run's config and study, :meth:`EndpointModel.fit` gives the run's main fit, draw for draw.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import arviz as az
import pandas as pd
import pymc as pm
import xarray as xr
from matplotlib.figure import Figure

from rechallenge.analysis.families import has_family, registered_families
from rechallenge.analysis.run.fitio import FIT_KEY_ATTR, load_fit, save_fit
from rechallenge.analysis.run.fitting import FIT_GROUPS, build_model
from rechallenge.analysis.run.run_object import endpoint_figure
from rechallenge.analysis.settings.config import RunConfig, parse_config
from rechallenge.analysis.settings.family_hooks import model_rows
from rechallenge.analysis.settings.fit_names import endpoint_of, fit_key
from rechallenge.analysis.summaries.endpoint_results import EndpointResults, site_table, summarise
from rechallenge.analysis.summaries.prior_reweighting import sensitivity_scales
from rechallenge.data import Study
from rechallenge.models.log_density import add_pointwise_log_density
from rechallenge.models.sampling import fit

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

#: Root attribute of a saved model's file holding the config it was fitted with (TOML).
CONFIG_ATTR = "rechallenge_config"


class EndpointModel:
    """The main model of one endpoint of a study.

    Parameters
    ----------
    study
        The validated data (all endpoints; the model takes its endpoint's rows).
    endpoint
        ``"response"``, ``"disease_control"``, ``"toxicity"`` or ``"ttp"``.
    config
        The analysis (pooling, priors, covariates, sampler, interval); ``None``: the default.

    Attributes
    ----------
    model : pm.Model or None
        The built model, once :meth:`build` (or :meth:`fit`) has run.
    idata : az.InferenceData or None
        The fit, once :meth:`fit` has run (or the model was loaded).
    """

    def __init__(self, study: Study, endpoint: str, config: RunConfig | None = None) -> None:
        if not has_family(endpoint):
            raise ValueError(f"unknown endpoint {endpoint!r}; choose from "
                             f"{', '.join(f.endpoint for f in registered_families())}")
        config = config or RunConfig()
        self.study = study
        self.endpoint = endpoint
        # A one-endpoint analysis: its figures are the figures a run draws of this endpoint.
        self.config = replace(config, analysis=replace(config.analysis, endpoints=(endpoint,)))
        self.model: pm.Model | None = None
        self.idata: az.InferenceData | None = None

    def build(self) -> pm.Model:
        """Build (once) and return the model, as a run builds the endpoint's main model."""
        if self.model is None:
            self.model = build_model(self.study, self.endpoint, self.config,
                                     self.config.analysis.pooling)
        return self.model

    def fit(
        self,
        *,
        draws: int | None = None,
        tune: int | None = None,
        chains: int | None = None,
        seed: int | None = None,
        progress: bool = False,
    ) -> az.InferenceData:
        """Sample the model; keep and return the fit.

        Parameters
        ----------
        draws, tune, chains, seed
            Sampler settings; ``None`` keeps the config's. The seed also seeds the summaries'
            predictive draws, as in a run.
        progress
            Show the sampler's progress bar.

        Returns
        -------
        az.InferenceData
            With the groups of a run's main fit: prior, posterior predictive, log-likelihood
            and, when the config has sensitivity variants, the log prior they are reweighted by.
        """
        changes = {name: value for name, value in
                   (("draws", draws), ("tune", tune), ("chains", chains), ("seed", seed))
                   if value is not None}
        self.config = self.config.with_sampler(**changes)
        model, s = self.build(), self.config.sampler
        idata = fit(model, draws=s.draws, tune=s.tune, chains=s.chains, seed=s.seed,
                    backend=s.backend, target_accept=s.target_accept, prior_draws=s.prior_draws,
                    groups=FIT_GROUPS["main"], progress=progress)
        if sensitivity_scales(self.config):  # as the run's main fit (run/fitting.py)
            add_pointwise_log_density(model, idata, "prior")
        self.idata = idata
        return idata

    def _fitted(self) -> az.InferenceData:
        if self.idata is None:
            raise ValueError(f"the {self.endpoint} model is not fitted yet: call .fit() first")
        return self.idata

    def summary(self) -> pd.DataFrame:
        """The tidy summary: one row per quantity and line (as a run's tables)."""
        return summarise(self._fitted(), self.endpoint, self.config)

    def sites(self) -> pd.DataFrame:
        """Per-site estimates beside the raw data."""
        return site_table(self._fitted(), self.endpoint, self.config)

    def _figure(self, kind: str) -> Figure:
        fits = {fit_key(self.endpoint): self._fitted()}
        # The forest plots need only the summary and the sites of the endpoint's results.
        results = ({self.endpoint: EndpointResults(self.endpoint, self.summary(), self.sites())}
                   if kind == "forest" else None)
        return endpoint_figure(kind, self.endpoint, self.study, fits, results, self.config)

    def plot_forest(self) -> Figure:
        """Sites and pooled rows per line, as in a run's report."""
        return self._figure("forest")

    def plot_contrast(self) -> Figure:
        """The posterior of the later line against the first, as in a run's report."""
        return self._figure("contrast")

    def plot_survival(self) -> Figure:
        """Weibull survival over the Kaplan-Meier curves (time to progression only)."""
        return self._figure("survival")

    def save(self, path: str | Path) -> Path:
        """Write the fit, with the config it was made with, to a netCDF file; return its path."""
        idata = self._fitted()
        groups = {group: idata[group] for group in idata.groups()}
        # A copy that carries the config: the caller's InferenceData is left as it is.
        recorded = az.InferenceData(attrs={**idata.attrs, CONFIG_ATTR: self.config.to_toml()},
                                    **groups)
        return save_fit(recorded, Path(path), key=fit_key(self.endpoint))

    @classmethod
    def load(cls, path: str | Path, study: Study, config: RunConfig | None = None) -> EndpointModel:
        """A fitted model from a file of :meth:`save`, or a run's main fit (``fits/<endpoint>.nc``).

        Parameters
        ----------
        path
            The file.
        study
            The data it was fitted to (checked against the fit's data hash).
        config
            The analysis; ``None``: the one the file records (a run's fit file records none: then
            pass the run's config, ``load_config("RUN/config.toml")``, or the default is used).

        Raises
        ------
        DataHashMismatch
            ``study`` is not the data the fit was made from.
        ValueError
            The file is not a rechallenge fit, or holds a comparator or sensitivity fit.
        """
        key = _recorded_key(Path(path))
        endpoint = endpoint_of(key)
        if key != fit_key(endpoint) or not has_family(endpoint):
            raise ValueError(f"{path}: holds the fit {key!r}, not the main fit of an endpoint")
        idata = load_fit(path, expected_key=key,
                         expected_hash=model_rows(endpoint, study).data_hash())
        if config is None and CONFIG_ATTR in idata.attrs:
            config = parse_config(tomllib.loads(str(idata.attrs[CONFIG_ATTR])), source=str(path))
        model = cls(study, endpoint, config)
        model.idata = idata
        return model

    def __repr__(self) -> str:
        state = "fitted" if self.idata is not None else "not fitted"
        return (f"EndpointModel({self.endpoint!r}, pooling={self.config.analysis.pooling!r}, "
                f"{len(self.study.for_endpoint(self.endpoint).sites)} sites, {state})")


def _recorded_key(path: Path) -> str:
    """The fit a file holds (endpoint and variant), from its posterior's attributes only."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such fit")
    with xr.open_dataset(path, group="posterior", engine="h5netcdf") as posterior:
        attrs = dict(posterior.attrs)
    # Files written before the key was recorded name their endpoint only.
    key = attrs.get(FIT_KEY_ATTR, attrs.get("rechallenge_endpoint"))
    if not isinstance(key, str):
        raise ValueError(f"{path}: not a rechallenge fit (it names no endpoint)")
    return key
