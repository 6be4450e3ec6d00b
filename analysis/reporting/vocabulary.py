"""One vocabulary: the reader's words for the package's machine names.

Summaries, CSV files meant for programs and the InferenceData use machine names
(``probability_population``, ``odds_ratio_typical_site``, ``freq_lower``, ...). Everything meant
for a reader (report tables, sentences, figures, the Word document) takes its words from here, so
a quantity is called the same everywhere and a test can check that no machine name reaches a
reader (:data:`MACHINE_NAMES`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Final

import pandas as pd

from rechallenge.analysis.plots.diagnostics import PARAMETER_WORDS, parameter_words
from rechallenge.analysis.settings.families import family_of, has_family, registered_families
from rechallenge.data import schema
from rechallenge.data.endpoints import endpoint_definition, registered_endpoints
from rechallenge.models.survival import DISTRIBUTIONS

#: Short reader labels of the readings of a per-line quantity (binary and TTP alike).
READINGS: Final[dict[str, str]] = {
    "population": "Population average",
    "typical_site": "Typical site",
    "new_site": "New site (predictive)",
}

#: Reader labels of the summary quantities; ``{later}`` and ``{first}`` are lines.
QUANTITY_LABELS: Final[dict[str, str]] = {
    "probability_population": "Population average",
    "probability_typical_site": "Typical site",
    "probability_new_site": "New site (predictive)",
    "probability_site": "Site probability",
    "difference_population": "Difference {later} minus {first}, population average",
    "difference_typical_site": "Difference {later} minus {first}, typical site",
    "odds_ratio_typical_site": "Odds ratio {later} vs {first}, typical site",
    "prob_greater_population": "P({later} > {first})",
    "median_population": "Median TTP, months: population average",
    "median_typical_site": "Median TTP, months: typical site",
    "median_new_site": "Median TTP, months: new site (predictive)",
    "median_site": "Site median TTP, months",
    "median_ratio_population": "Ratio of median TTP {later} / {first}, population average",
    "median_ratio_typical_site": "Ratio of median TTP {later} / {first}, typical site",
    "hazard_ratio": "Hazard ratio {later} vs {first}",
    "tau": "Between-site SD",
    "site_corr": "Correlation of site effects between lines",
    "sigma_patient": "Between-patient SD",
    # Each survival distribution's shape parameters, and the restricted means.
    **{p.name: p.words for d in DISTRIBUTIONS.values() for p in d.parameters},
    "rmst_population": "Restricted mean TTP, months: population average",
    "rmst_difference_population": "Difference in restricted mean TTP {later} minus {first}",
    "rmst_ratio_population": "Ratio of restricted mean TTP {later} / {first}",
}

#: Reader labels of column names of the tables the report shows.
COLUMN_LABELS: Final[dict[str, str]] = {
    "endpoint": "Endpoint", "quantity": "Quantity", "line": "Line", "site": "Site",
    "n": "Patients", "events": "Events", "statistic": "Statistic",
    "mean": "Posterior mean", "median": "Posterior median", "sd": "Posterior SD",
    "posterior_median": "Posterior median", "probability": "Posterior probability",
    "frequentist": "Frequentist estimate", "freq_lower": "Frequentist lower",
    "freq_upper": "Frequentist upper", "freq_note": "Frequentist note", "note": "Note",
    "proportion": "Observed proportion", "proportion_lower": "Observed lower",
    "proportion_upper": "Observed upper", "raw_median": "Observed median",
    "raw_source": "Source of the observed median",
    "mcse_mean": "MCSE of the mean", "r_hat": "R-hat", "ess_bulk": "Bulk ESS",
    "ess_tail": "Tail ESS", "model": "Fit", "quantities": "Quantities checked",
    "max_r_hat": "Largest R-hat", "min_ess_bulk": "Smallest bulk ESS",
    "min_ess_tail": "Smallest tail ESS", "failing": "Failing",
    "divergences": "Divergences", "bfmi_min": "Lowest E-BFMI", "max_tree_depth_hits": "Tree-depth hits",
    "rank": "Rank", "elpd_loo": "ELPD (LOO)", "se": "SE", "p_loo": "Effective parameters",
    "elpd_diff": "ELPD difference", "dse": "SE of difference", "weight": "Stacking weight",
    "n_rows": "Data rows", "pareto_k_max": "Largest Pareto k", "pareto_k_bad": "Rows with k > 0.7",
    "warning": "Warning", "elpd_site": "ELPD of the site", "pareto_k": "Pareto k",
    "variant": "Heterogeneity prior", "max_shift_sd": "Largest shift (posterior SDs)",
    "shift_sd": "Shift (posterior SDs)",
    "prior": "Sensitivity to the prior", "likelihood": "Sensitivity to the likelihood",
    "flagged": "Flagged", "diagnosis": "Diagnosis", "variable": "Parameter",
    "name": "Hyperparameter", "value": "Value", "default": "Default",
    "distribution": "Prior", "reason": "Reason for the default",
    "best_response": "Best response at first line", "lower": "Lower", "upper": "Upper",
    "posterior_mean": "Posterior mean", "posterior_lower": "Posterior lower",
    "posterior_upper": "Posterior upper", "interval": "Interval",
    "components": "Components", "draws_mean": "Mean of the draws",
    "mixture_mean": "Mean of the mixture", "draws_lower": "Lower bound of the draws",
    "mixture_lower": "Lower bound of the mixture", "draws_upper": "Upper bound of the draws",
    "mixture_upper": "Upper bound of the mixture", "ess_elir": "Effective sample size (ELIR)",
    "robust_ess_elir": "Robust effective sample size (ELIR)",
    "observed": "Observed", "predictive_mean": "Predictive mean",
    "predictive_lower": "Predictive lower", "predictive_upper": "Predictive upper",
    "p_lower": "P(lower tail)", "p_upper": "P(upper tail)", "p_value": "Predictive p-value",
    "before": "Before", "after": "After", "before_lower": "Before: lower",
    "before_upper": "Before: upper", "after_lower": "After: lower", "after_upper": "After: upper",
    "n_pareto_k_high": "Rows with high Pareto k", "max_pareto_k": "Largest Pareto k",
    "reliable": "Reliable", "parameter": "Parameter", "psens_prior": "Sensitivity to the prior",
    "psens_likelihood": "Sensitivity to the likelihood", "chains": "Chains", "draws": "Draws",
}

#: Machine names that must never reach a reader: every name with an underscore here, plus the
#: endpoint names that have one (a test scans the report for them).
MACHINE_NAMES: Final[frozenset[str]] = frozenset(
    name for name in (*QUANTITY_LABELS, *COLUMN_LABELS, *schema.ENDPOINTS) if "_" in name
)


def counted(n: float, noun: str, plural: str | None = None) -> str:
    """A count with its noun in the right number: ``"1 site"``, ``"40 sites"``, ``"0 patients"``.

    Text about the data states the data's own counts; this keeps it right for one site too.
    """
    number = f"{int(n)}" if float(n).is_integer() else f"{n:g}"  # 1000000, never 1e+06
    return f"{number} {noun if n == 1 else (plural or noun + 's')}"


def endpoint_label(endpoint: str) -> str:
    """The reader's name of an endpoint (``"Objective response (CR or PR)"``)."""
    known = endpoint in registered_endpoints()
    return endpoint_definition(endpoint).label if known else endpoint


def split_contrast(line: str) -> tuple[str, str] | None:
    """``("ICI-2", "ICI-1")`` from the summaries' contrast label ``"ICI-2 vs ICI-1"``."""
    later, sep, first = line.partition(" vs ")
    return (later, first) if sep else None


def quantity_label(quantity: str, line: str = "", *, endpoint: str = "") -> str:
    """The reader's label of a summary quantity, with the lines of a contrast filled in.

    Parameters
    ----------
    quantity
        A machine name of the summaries (``"odds_ratio_typical_site"``).
    line
        The summary's ``line`` value; for a contrast ``"<later> vs <first>"``.
    endpoint
        The endpoint, whose family may word a quantity its own way (time to progression:
        ``prob_greater_population`` as medians).

    Returns
    -------
    str
        The label (the machine name itself only for a quantity the vocabulary lacks).
    """
    template = QUANTITY_LABELS.get(quantity, quantity)
    if has_family(endpoint):
        template = family_of(endpoint).quantity_labels.get(quantity, template)
    later, first = split_contrast(line) or (line, "")
    return template.format(later=later, first=first)


def column_label(name: str) -> str:
    """The reader's header of a column (the name itself when it is already a word)."""
    return COLUMN_LABELS.get(name, name)


def reader_frame(frame: pd.DataFrame, *, endpoint_column: str = "endpoint",
                 renames: Mapping[str, str] | None = None) -> pd.DataFrame:
    """A copy of ``frame`` in the reader's words: headers, quantities and endpoints.

    Numbers are left as they are (the :class:`~rechallenge.analysis.reporting.tables.Table`
    rounds on output). ``renames`` overrides :data:`COLUMN_LABELS` for this table.
    """
    out = frame.copy()
    endpoints = (out[endpoint_column].astype(str).str.split("__").str[0]
                 if endpoint_column in out else pd.Series("", index=out.index))
    if "quantity" in out:
        lines = out["line"].astype(str) if "line" in out else pd.Series("", index=out.index)
        out["quantity"] = [
            quantity_label(str(q), line, endpoint=endpoint)
            for q, line, endpoint in zip(out["quantity"], lines, endpoints)]
    if endpoint_column in out:
        out[endpoint_column] = out[endpoint_column].astype(str).map(
            lambda e: endpoint_label(e.split("__")[0]) + _variant_words(e))
    if "model" in out:
        out["model"] = out["model"].astype(str).map(fit_label)
    if "parameter" in out:
        # "tau[ICI-1]" -> "Between-site SD, ICI-1": the words of the rank plots' titles.
        out["parameter"] = out["parameter"].astype(str).map(parameter_words)
    names = {**COLUMN_LABELS, **(renames or {})}
    return out.rename(columns=lambda c: names.get(str(c), str(c)))


#: Reader words of the fit variants of :mod:`rechallenge.analysis.settings.fit_names`.
_VARIANTS: Final[dict[str, str]] = {
    "complete": "complete pooling", "none": "no pooling", "partial": "partial pooling",
    "tau_half": "heterogeneity prior scale halved", "tau_double": "heterogeneity prior scale doubled",
    "default": "default heterogeneity prior",
}


def _variant_label(endpoint: str, variant: str) -> str:
    """Words of a fit variant: the family's own variants (survival distributions) first."""
    own = family_of(endpoint).variant_label(variant) if has_family(endpoint) else None
    return own if own is not None else _VARIANTS.get(variant, variant)


def _variant_words(name: str) -> str:
    endpoint, sep, variant = name.partition("__")
    return f" ({_variant_label(endpoint, variant)})" if sep else ""


def fit_label(name: str) -> str:
    """Reader label of a fit key (``"response__complete"`` -> ``"Objective response (CR or
    PR), complete pooling"``) or of a pooling/variant name alone (``"tau_half"``).
    """
    if name in _VARIANTS:
        return _VARIANTS[name][0].upper() + _VARIANTS[name][1:]
    endpoint, _, variant = name.partition("__")
    base = endpoint_label(endpoint)
    return f"{base}, {_variant_label(endpoint, variant)}" if variant else base


def glossary(interval_label: str, first: str, later: str) -> list[tuple[str, str]]:
    """The report's glossary: (term, one-sentence definition), in reading order.

    Parameters
    ----------
    interval_label
        The run's interval, e.g. ``"95% equal-tailed credible interval"``.
    first, later
        The lines compared (``"ICI-1"``, ``"ICI-2"``).
    """
    return [
        ("Population average", "The proportion of patients with the event (for time to "
         "progression, the median of the survival curve) averaged over the distribution of "
         "sites, each site weighted equally: what a patient at a randomly chosen site can expect."),
        ("Typical site", "A site at the centre of the site distribution (site effect zero); "
         "when sites differ, its proportion lies nearer 50% than the population average, and "
         "the odds ratio refers to it."),
        ("New site (predictive)", "What a site not in the data may see: the estimate includes "
         "the spread between sites, so its interval is wider; it is the basis of the prior "
         "exported for a future study."),
        ("Shrunken estimate", "A site's own estimate under partial pooling: pulled toward the "
         "population average, the more so the fewer patients the site has."),
        ("Credible interval (CrI)", f"The {interval_label}: the range holding that posterior "
         "probability of the quantity, given the model and the data."),
        (f"P({later} > {first})", f"The posterior probability that the population average is "
         f"higher at {later} than at {first} (for time to progression: that the median is "
         "longer)."),
        ("Percentage points (pp)", "The unit of a difference of two percentages (30% minus 25% "
         "is 5 pp)."),
        ("Frequentist reference: crude proportion", "Patients with the event divided by all "
         "patients of a line, sites ignored, with an exact (Clopper-Pearson) confidence "
         "interval, as the published analysis reported it."),
        ("Frequentist reference: Kaplan-Meier median", "The median time to progression read "
         "off the Kaplan-Meier curve of all patients of a line, with a confidence interval "
         "from Greenwood's variance (linear, Collett)."),
        ("Frequentist reference: Cox hazard ratio", f"The hazard of progression at {later} "
         f"relative to {first} from a Cox model, with a robust confidence interval that "
         "allows for the same patients being treated at both lines."),
        ("Not estimable", "A frequentist reference that does not exist on these data, given "
         "with the reason: no hazard ratio without progressions at a line, no odds ratio when "
         "every or no patient of a line had the event, no ratio of medians when a median is not "
         "reached."),
        ("Not reached", "A Kaplan-Meier median the curve never reaches: it stays above 50%."),
        ("CR, PR, SD, PD, NE", "Best response by RECIST: complete response, partial response, "
         "stable disease, progressive disease, not evaluable. Objective response is CR or PR; "
         "disease control is CR, PR or SD."),
        ("TTP", "Time to progression: months from the start of a line to radiological "
         "progression; patients without progression are censored at their last follow-up."),
        ("R-hat", "The rank-normalised potential scale reduction: how far the chains disagree; "
         "1.00 when they sample the same distribution, required at most 1.01."),
        ("ESS", "Effective sample size: how many independent draws the correlated draws are "
         "worth, in the bulk and in the tails of the posterior."),
        ("E-BFMI", "Energy Bayesian fraction of missing information: below 0.3 the sampler "
         "explores the posterior's energy levels poorly."),
        ("ELPD", "Expected log predictive density: how well a model predicts a left-out "
         "observation (higher is better), estimated by leave-one-out cross-validation."),
        ("Pareto k", "The shape of the tail of the importance weights behind a leave-one-out "
         "or reweighted estimate: above 0.7 the estimate is unreliable."),
        ("Stacking weight", "The weight of a model in the combination of the compared models "
         "that predicts left-out data best."),
        ("Power-scaling sensitivity", "How much the posterior changes when the prior or the "
         "likelihood is raised to a power near 1: a prior sensitivity of 0.05 or more means the "
         "prior shapes the result."),
        ("MAP prior", "Meta-analytic-predictive prior: the predictive distribution for a new "
         "site, approximated by a mixture, to use as the prior of a future study."),
        ("ELIR", "Effective sample size of a prior by the expected local information ratio: "
         "the number of patients the prior is worth."),
    ]


def _known_labels() -> dict[str, str]:
    """Every quantity's label: :data:`QUANTITY_LABELS`, and the quantities of the registered
    families that it does not name (a family's own, such as the benefit-risk quantities).
    """
    labels: dict[str, str] = {}
    for family in registered_families():
        for name, template in family.quantity_labels.items():
            labels.setdefault(name, template)
    return {**labels, **QUANTITY_LABELS}


@lru_cache(maxsize=8)
def _patterns(quantities: tuple[str, ...],
              endpoints: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    # Compiled once per set of names: the registry changes only when a family registers.
    quantity = re.compile(
        # tau and shape are model notation (defined in the methods), like mu; not rewritten.
        r"(?<![\w])(" + "|".join(sorted((re.escape(q) for q in quantities if "_" in q),
                                         key=len, reverse=True))
        + r")(?:\[([^\]]*)\])?(?![\w])")
    endpoint = re.compile(
        r"(?<![\w\[])(" + "|".join(sorted(map(re.escape, endpoints), key=len, reverse=True))
        + r")(?=: )")
    return quantity, endpoint


def reader_text(text: str) -> str:
    """A sentence of program output (e.g. the convergence gate's) in the reader's words.

    ``odds_ratio_typical_site[ICI-2 vs ICI-1]`` becomes ``Odds ratio ICI-2 vs ICI-1, typical
    site``; ``probability_site[ICI-1, S03]`` becomes ``Site probability [ICI-1, S03]``; an
    endpoint name before a colon becomes its label; a parameter of the model in words
    (``z_site[S03, ICI-2]`` becomes ``Standardised site effect [S03, ICI-2]``).
    """
    labels = _known_labels()
    quantities, endpoints = _patterns(tuple(sorted(labels)), registered_endpoints())

    def quantity(match: re.Match[str]) -> str:
        name, args = match.group(1), match.group(2)
        later, first = split_contrast(args or "") or ("later", "first")
        label = labels[name].format(later=later, first=first)
        return f"{label} [{args}]" if args is not None and not split_contrast(args) else label

    def parameter(match: re.Match[str]) -> str:
        if match.group(3):
            return parameter_words(match.group(3))
        return f"{parameter_words(match.group(1))} {match.group(2)}"

    out = quantities.sub(quantity, text)
    out = _parameters_pattern().sub(parameter, out)
    return endpoints.sub(lambda m: endpoint_label(m.group(1)), out)


#: Parameters named after a Greek letter: in a gate's message without an index they are still
#: parameters (no English word is spelt so).
GREEK_NAMES: Final = frozenset({"mu", "tau", "sigma", "beta", "eta"})


@lru_cache(maxsize=1)
def _parameters_pattern() -> re.Pattern[str]:
    # The models' parameters, longest first so "site_corr_pairs" is not read as "site_corr"; a
    # name that is also an English word ("shape") only with its index ("shape[ICI-1]").
    names = sorted(PARAMETER_WORDS, key=len, reverse=True)
    code = "|".join(re.escape(n) for n in names if "_" in n or n in GREEK_NAMES)
    indexed = "|".join(map(re.escape, names))
    return re.compile(rf"(?<![\w/.])(?:({indexed})(\[[^\]]*\])|({code})(?![\w\[]))")
