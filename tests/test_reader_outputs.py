"""Reader-facing outputs without fitting: vocabulary, estimate cells, Word tables, the TTP
forest data, captured warnings and the RBesT mixture layout (checked against RBesT's reader)."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rechallenge.analysis.map_prior.mixtures import BetaMixture, NormalMixture
from rechallenge.analysis.map_prior.rbest import rbest_files, rbest_mixture
from rechallenge.analysis.plots.forest_ttp import TTP_FOREST_COLUMNS, ttp_forest_data
from rechallenge.analysis.reporting.docx_report import write_table_docx
from rechallenge.analysis.reporting.escaping import docx_text
from rechallenge.analysis.reporting.estimates import interval_cell, posterior_cell, probability_cell
from rechallenge.analysis.reporting.reader_tables import statistic_label
from rechallenge.analysis.reporting.tables import Table
from rechallenge.analysis.reporting.vocabulary import (
    MACHINE_NAMES,
    glossary,
    quantity_label,
    reader_frame,
    reader_text,
)
from rechallenge.analysis.settings.intervals import DEFAULT_INTERVAL
from rechallenge.analysis.summaries.captured import captured_warnings, classify


def test_estimate_cells_read_as_a_manuscript_writes_them():
    assert interval_cell(0.235, 0.137, 0.368, "percent") == "23.5% (13.7 to 36.8)"
    assert interval_cell(0.027, -0.161, 0.189, "points") == "2.7 pp (\u221216.1 to 18.9)"
    assert interval_cell(1.115, 0.367, 2.824, "ratio") == "1.11 (0.37 to 2.82)"
    assert interval_cell(5.5, 3.9, np.inf, "months") == "5.5 (3.9 to not reached)"
    assert interval_cell(np.nan, 0.1, 0.2, "percent") == ""
    row = {"median": 0.235, "mean": 0.241, "sd": 0.059, "lower": 0.137, "upper": 0.368}
    assert posterior_cell(row, "percent") == "23.5% (13.7 to 36.8)"
    assert posterior_cell(row, "percent", estimate="mean_sd") == "24.1% ± 5.9 (13.7 to 36.8)"
    assert [probability_cell(p) for p in (0.623, 0.999, 0.001)] == ["0.62", "> 0.99", "< 0.01"]


def test_vocabulary_words_every_quantity_and_contrast():
    assert quantity_label("odds_ratio_typical_site", "ICI-2 vs ICI-1") == \
        "Odds ratio ICI-2 vs ICI-1, typical site"
    assert quantity_label("prob_greater_population", "ICI-2 vs ICI-1") == "P(ICI-2 > ICI-1)"
    assert quantity_label("prob_greater_population", "ICI-2 vs ICI-1", endpoint="ttp") == \
        "P(median ICI-2 > median ICI-1)"
    assert {"probability_population", "freq_lower", "prob_greater_population",
            "disease_control"} <= MACHINE_NAMES
    frame = pd.DataFrame({"endpoint": ["response", "ttp"], "quantity": ["probability_population",
                          "median_population"], "line": ["ICI-1", "ICI-1"], "freq_lower": [0.1, 2]})
    words = reader_frame(frame)
    assert list(words.columns) == ["Endpoint", "Quantity", "Line", "Frequentist lower"]
    assert words["Quantity"].tolist() == ["Population average",
                                          "Median TTP, months: population average"]
    text = reader_text("response: R-hat > 1.01 for 4 quantities (tau[ICI-1], z_site[S03, "
                       "ICI-2], sigma_patient, odds_ratio_typical_site[ICI-2 vs ICI-1]); a "
                       "tighter prior (tau_sd) or another shape")
    assert text == ("Objective response (CR or PR): R-hat > 1.01 for 4 quantities (Between-site "
                    "SD [ICI-1], Standardised site effect [S03, ICI-2], Between-patient SD, Odds "
                    "ratio ICI-2 vs ICI-1, typical site); a tighter prior (tau_sd) or another "
                    "shape")
    assert statistic_label("response_prop") == "Objective response (CR or PR): proportion"
    terms = [t for t, _ in glossary("95% equal-tailed credible interval", "ICI-1", "ICI-2")]
    assert {"Population average", "Typical site", "New site (predictive)"} <= set(terms)
    assert sum(t.startswith("Frequentist reference") for t in terms) == 3


def test_word_table_reads_back_as_a_real_table(tmp_path: Path):
    import docx

    frame = pd.DataFrame({"Site": ["S01", "a\x07b <x>"], "Estimate": ["23.5% (13.7 to 36.8)", ""]})
    path = write_table_docx(Table("t", "Caption, 95% equal-tailed credible interval.", frame),
                            tmp_path / "t.docx")
    doc = docx.Document(str(path))
    assert len(doc.tables) == 1
    cells = [[c.text for c in row.cells] for row in doc.tables[0].rows]
    assert cells == [["Site", "Estimate"], ["S01", "23.5% (13.7 to 36.8)"],
                     [docx_text("a\x07b <x>"), ""]]
    assert cells[2][0] == "a\ufffdb <x>"


def test_ttp_forest_data_has_sites_then_pooled_rows():
    sites = pd.DataFrame({"site": ["S01", "S02"], "line": "ICI-1", "n": [4, 6], "events": [3, 6],
                          "raw_median": [5.0, np.inf], "median": [5.5, 6.0], "lower": [3.0, 4.0],
                          "upper": [9.0, 9.5], "interval": DEFAULT_INTERVAL.short})
    summary = pd.DataFrame({"quantity": ["median_population", "median_typical_site",
                                         "median_new_site"], "line": "ICI-1",
                            "median": [5.7, 5.8, 5.6], "lower": [4.0, 4.1, 2.0],
                            "upper": [8.0, 8.1, 14.0], "interval": DEFAULT_INTERVAL.short})
    data = ttp_forest_data(sites, summary, line="ICI-1", pooled_raw=(5.2, 3.1, 7.7))
    assert list(data.columns) == list(TTP_FOREST_COLUMNS)
    assert data["kind"].tolist() == ["site", "site", "population", "typical_site", "new_site"]
    assert data.loc[2, ["n", "events", "raw", "raw_lower"]].tolist() == [10, 9, 5.2, 3.1]
    assert np.isinf(data.loc[1, "raw"])


def test_library_warnings_are_counted_not_printed(capsys):
    with captured_warnings() as caught:
        for _ in range(3):
            warnings.warn("Estimated shape parameter of Pareto distribution is greater than 0.7")
        warnings.warn("Something else. More words.")
    assert dict(caught) == {"Pareto k above ArviZ's threshold": 3, "Something else": 1}
    assert capsys.readouterr().err == ""
    assert classify({"There were 3 divergences after tuning": 2}) == {"divergent transitions": 2}


# --- RBesT's reader, as R/mixjson.R and jsonlite define it ------------------------------------
# read_mix_json: mix_list <- jsonlite::fromJSON(json); mix <- mix_list$comp;
# attributes(mix) <- mix_list$meta; attr(mix, "link") <- link_map[[mix_list$meta$link]];
# mix[1, ] <- mix[1, ] / sum(mix[1, ]).


def _from_json(value: Any) -> Any:
    """jsonlite::fromJSON's simplification (simplifyVector, simplifyMatrix): an array of
    scalars is a vector, an array of equal-length arrays of scalars a matrix (row-major), an
    object a named list."""
    if isinstance(value, dict):
        return {"named_list": {k: _from_json(v) for k, v in value.items()}}
    if isinstance(value, list):
        if all(not isinstance(v, (list, dict)) for v in value):
            return {"vector": value}
        if all(isinstance(v, list) and all(not isinstance(x, (list, dict)) for x in v)
               for v in value) and len({len(v) for v in value}) == 1:
            return {"matrix": value}
        return {"list": [_from_json(v) for v in value]}
    return {"vector": [value]}


def _vector(value: dict) -> list:
    assert "vector" in value, f"expected a vector, got {value}"
    return value["vector"]


def read_mix_json(text: str) -> dict[str, Any]:
    """Python stand-in for RBesT::read_mix_json: fails where R would."""
    parsed = _from_json(json.loads(text))["named_list"]
    comp, meta = parsed["comp"], parsed["meta"]["named_list"]
    assert "matrix" in comp, "comp must simplify to a matrix"
    rows = comp["matrix"]
    dim = _vector(meta["dim"])
    assert dim == [len(rows), len(rows[0])] == [3, dim[1]], "dim must match the matrix"
    dimnames = meta["dimnames"]
    # attributes<- : 'dimnames' must be a list, one vector per dimension, of matching lengths.
    assert "named_list" in dimnames or "list" in dimnames, "'dimnames' must be a list"
    parts = (list(dimnames["named_list"].values()) if "named_list" in dimnames
             else dimnames["list"])
    assert [len(_vector(p)) for p in parts] == dim
    link = _vector(meta["link"])
    assert link == ["identity"] or link in (["logit"], ["log"]), "link must be in link_map"
    klass = _vector(meta["class"])
    assert klass[-1] == "mix" and klass[0] in ("betaMix", "normMix", "gammaMix")
    likelihood = _vector(meta["likelihood"])[0]
    assert likelihood in ("poisson", "exp", "normal", "binomial")
    row_names = _vector(parts[0])
    assert row_names == (["w", "a", "b"] if klass[0] == "betaMix" else ["w", "m", "s"])
    weights = np.array(rows[0], dtype=float)
    out = {"class": klass[0], "weights": weights / weights.sum(), "rows": rows,
           "likelihood": likelihood, "components": _vector(parts[1])}
    if klass[0] == "normMix":
        out["sigma"] = _vector(meta["sigma"])[0]
        assert np.all(np.array(rows[2]) > 0)
    else:
        assert np.all(np.array(rows[1:]) >= 0)
    return out


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_rbest_layout_is_read_by_read_mix_json(k: int):
    weights = np.full(k, 1 / k)
    beta = BetaMixture(weights=weights, a=np.arange(1, k + 1) * 2.0, b=np.full(k, 7.0))
    mix = read_mix_json(json.dumps(rbest_mixture(beta, robust=k > 1)))
    assert mix["class"] == "betaMix" and mix["likelihood"] == "binomial"
    np.testing.assert_allclose(mix["rows"][1], beta.a)
    assert mix["components"][-1] == ("robust" if k > 1 else "map1")
    normal = NormalMixture(weights=weights, loc=np.linspace(1, 2, k), scale=np.full(k, 0.4))
    mix = read_mix_json(json.dumps(rbest_mixture(normal, sigma=1.0)))
    assert mix["class"] == "normMix" and mix["sigma"] == 1.0
    np.testing.assert_allclose(mix["rows"][2], normal.scale)


def test_unnamed_dimnames_of_three_components_would_fail_in_r():
    # Why dimnames is written as an object: jsonlite turns [["w","a","b"],["c1","c2","c3"]]
    # into a character matrix, which attributes<- refuses.
    body = rbest_mixture(BetaMixture(weights=[0.5, 0.3, 0.2], a=[2, 3, 1], b=[5, 6, 1]),
                         robust=True)
    body["meta"]["dimnames"] = list(body["meta"]["dimnames"].values())
    with pytest.raises(AssertionError, match="must be a list"):
        read_mix_json(json.dumps(body))


def test_rbest_files_one_per_endpoint_and_line_hold_the_robust_prior():
    beta = {"family": "beta", "weights": [0.4, 0.4, 0.2], "a": [6.0, 5.0, 1.0],
            "b": [25.0, 11.0, 1.0]}
    normal = {"family": "normal", "weights": [0.8, 0.2], "loc": [1.7, 1.7], "scale": [0.3, 1.0]}
    record = {"endpoints": {
        "response": {"ICI-2": {"robust_mixture": beta, "robust_weight": 0.2,
                               "robust_component": {"a": 1.0, "b": 1.0}}},
        "ttp": {"ICI-1": {"robust_mixture": normal, "robust_weight": 0.2,
                          "robust_component": {"loc": 1.7, "scale": 1.0}}}}}
    files = rbest_files(record)
    assert sorted(files) == ["response_ICI-2.json", "ttp_ICI-1.json"]
    response = read_mix_json(files["response_ICI-2.json"])
    np.testing.assert_allclose(response["weights"], [0.4, 0.4, 0.2])
    assert response["components"] == ["map1", "map2", "robust"]
    assert read_mix_json(files["ttp_ICI-1.json"])["sigma"] == 1.0


def test_the_glossary_defines_every_term_the_report_uses() -> None:
    from rechallenge.analysis.reporting.vocabulary import glossary

    terms = " ".join(term for term, _ in glossary("95% equal-tailed credible interval",
                                                  "ICI-1", "ICI-2"))
    for needed in ("ELPD", "Pareto k", "Stacking weight", "R-hat", "ESS", "E-BFMI", "ELIR",
                   "MAP", "Power-scaling", "CR, PR, SD, PD, NE", "TTP", "Credible interval",
                   "Percentage points", "Not reached"):
        assert needed in terms, needed


def test_the_priors_table_for_readers_names_no_config_key_and_writes_the_values_in() -> None:
    from rechallenge.analysis.reporting.reader_tables import priors_reader_table
    from rechallenge.analysis.reporting.tables import Table

    machine = Table("priors", "Priors.", pd.DataFrame([
        {"endpoint": "ttp", "name": "mu_mean", "value": 1.79176, "default": 1.79176,
         "distribution": "mu[line] ~ Normal(mu_mean, mu_sd)", "reason": "r"},
        {"endpoint": "ttp", "name": "mu_sd", "value": 2.0, "default": 1.0,
         "distribution": "mu[line] ~ Normal(mu_mean, mu_sd)", "reason": "r"},
        {"endpoint": "ttp", "name": "lkj_eta", "value": 2.0, "default": 2.0,
         "distribution": "site_corr ~ LKJ(lkj_eta)",
         "reason": "eta = 2 keeps tau and r^2 away from +-1; beta and theta stay"},
    ]))
    frame = priors_reader_table(machine).frame
    # The model's parameters in the methods' notation (Greek letters), the values written in.
    assert list(frame["Prior"]) == ["\u03bc[line] ~ Normal(1.79, 2)"] * 2 + ["R ~ LKJ(2)"]
    assert frame["Reason for the default"].iloc[2] == (
        "\u03b7 = 2 keeps \u03c4 and r\u00b2 away from \u00b11; \u03b2 and theta stay")
    assert list(frame["Value"]) == ["1.79", "2 (default 1)", "2"]
    text = " ".join(frame.astype(str).to_numpy().ravel())
    assert not re.search(r"mu_mean|mu_sd|lkj_eta|site_corr", text)
