"""Plots and the data behind them, on hand-made inputs (no sampling, no fits)."""

from __future__ import annotations

import re
import struct

import arviz as az
import numpy as np
import pandas as pd
import pytest
from conftest import SEED
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

from rechallenge.analysis.plots.contrast import CONTRAST_COLUMNS, contrast_data, plot_contrast
from rechallenge.analysis.plots.diagnostics import (
    MAX_PANELS,
    RANK_COLUMNS,
    plot_ranks,
    rank_data,
    scalar_parameters,
    top_level_var_names,
)
from rechallenge.analysis.plots.forest import (
    FOREST_COLUMNS,
    forest_data,
    plot_forest,
    plot_forest_lines,
)
from rechallenge.analysis.plots.ppc import (
    SITE_PPC_COLUMNS,
    plot_km_ppc,
    plot_km_ppc_lines,
    plot_site_count_ppc,
    plot_site_count_ppc_lines,
    site_count_ppc_data,
    surprising,
)
from rechallenge.analysis.plots.style import (
    LINE_COLOURS,
    PNG_DPI,
    line_colour,
    new_axes,
    save_figure,
)
from rechallenge.analysis.plots.survival import (
    KM_COLUMNS,
    km_data,
    number_at_risk,
    plot_survival,
)
from rechallenge.analysis.settings.intervals import DEFAULT_INTERVAL, Interval
from rechallenge.data.frequentist import exact_proportion_ci

LINES = ("ICI-1", "ICI-2")
HDI90 = Interval(0.9, "hdi")


def figure_text(fig: Figure) -> str:
    """All text of a figure (titles, labels, ticks, legends, annotations), one string."""
    return "\n".join(t.get_text() for t in fig.findobj(Text))


# --- figures.py ---------------------------------------------------------------------------------

def _simple_figure() -> Figure:
    ax = new_axes()
    ax.plot([0, 1, 2], [1, 0.5, 0.2], color=line_colour("ICI-1"))
    ax.set_title("a figure")
    return ax.figure


def test_save_figure_writes_png_and_pdf_deterministically(tmp_path):
    first = save_figure(_simple_figure(), tmp_path / "a", "fig")
    second = save_figure(_simple_figure(), tmp_path / "b", "fig")
    assert [p.name for p in first] == ["fig.png", "fig.pdf"]
    assert all(p.is_file() and p.stat().st_size > 0 for p in first + second)
    assert first[0].read_bytes() == second[0].read_bytes()
    assert first[1].read_bytes() == second[1].read_bytes()
    png, pdf = first[0].read_bytes(), first[1].read_bytes()
    assert png.startswith(b"\x89PNG") and b"tIME" not in png and b"Software" not in png
    assert pdf.startswith(b"%PDF") and b"CreationDate" not in pdf


def test_png_and_pdf_share_one_layout(tmp_path):
    fig = _simple_figure()
    # Long labels: measured on their own, Agg and the PDF backend differ here by pixels.
    fig.axes[0].set_yticks([0.2, 1.0], ["Site posterior median, 95% equal-tailed", "Population"])
    png, pdf = save_figure(fig, tmp_path, "fig")
    width, height = struct.unpack(">II", png.read_bytes()[16:24])  # the PNG's IHDR chunk
    box = re.search(rb"/MediaBox \[ *0 0 ([\d.]+) ([\d.]+) *\]", pdf.read_bytes())
    assert box is not None
    # The same crop in both: the PDF page (points) is the PNG (pixels at 200 dpi) to a pixel.
    assert abs(float(box[1]) * PNG_DPI / 72 - width) <= 1
    assert abs(float(box[2]) * PNG_DPI / 72 - height) <= 1


def test_save_figure_rejects_paths_as_names(tmp_path):
    with pytest.raises(ValueError, match="plain file stem"):
        save_figure(_simple_figure(), tmp_path, "../escape")


def test_line_colours_are_fixed_and_distinct():
    assert line_colour("ICI-1") == LINE_COLOURS["ICI-1"] != line_colour("ICI-2")
    assert line_colour("ICI-3") == line_colour("ICI-3")


# --- survival and Kaplan-Meier ------------------------------------------------------------------

@pytest.fixture
def patients() -> pd.DataFrame:
    return pd.DataFrame({
        "line": ["ICI-1"] * 4 + ["ICI-2"] * 3,
        "ttp_months": [1.0, 2.0, 2.0, 3.0, 1.5, 2.5, 4.0],
        "progressed": [1, 0, 1, 1, 1, 1, 0],
    })


def test_km_data_steps(patients):
    km = km_data(patients, LINES)
    assert tuple(km.columns) == KM_COLUMNS
    one = km[km["line"] == "ICI-1"]
    np.testing.assert_allclose(one["time"], [0, 1, 2, 3])
    # 3/4 after t=1; at t=2 one event among 3 at risk (the censoring at the tie comes after).
    np.testing.assert_allclose(one["survival"], [1, 0.75, 0.5, 0.0])
    np.testing.assert_array_equal(one["at_risk"], [4, 4, 3, 1])
    np.testing.assert_array_equal(one["censored"], [0, 0, 1, 0])
    two = km[km["line"] == "ICI-2"]
    np.testing.assert_allclose(two["survival"], [1, 2 / 3, 1 / 3, 1 / 3])


def test_number_at_risk(patients):
    table = number_at_risk(km_data(patients, LINES), [0, 2, 3.5, 10])
    got = table.pivot(index="time", columns="line", values="at_risk")
    np.testing.assert_array_equal(got["ICI-1"], [4, 3, 0, 0])
    np.testing.assert_array_equal(got["ICI-2"], [3, 2, 1, 0])


def _curves(interval: Interval) -> pd.DataFrame:
    t = np.linspace(0, 4, 9)
    frames = []
    for k, line in enumerate(LINES):
        s = np.exp(-t / (2 + k))
        frames.append(pd.DataFrame({"line": line, "time": t, "mean": s, "median": s,
                                    "lower": s * 0.8, "upper": np.minimum(s * 1.2, 1),
                                    "interval": interval.short}))
    return pd.concat(frames, ignore_index=True)


def test_plot_survival(patients):
    km = km_data(patients, LINES)
    ax = plot_survival(_curves(HDI90), km, interval=HDI90)
    assert isinstance(ax, Axes)
    text = figure_text(ax.figure)
    assert HDI90.label in text and "No. at risk" in text
    # One band per line, one median and one Kaplan-Meier step line per line, plus censor ticks.
    assert len(ax.collections) == 2
    labels = [t.get_text() for t in ax.figure.legends[0].get_texts()]
    assert labels[:2] == list(LINES)


def test_plot_survival_refuses_a_different_interval(patients):
    with pytest.raises(ValueError, match="same Interval"):
        plot_survival(_curves(DEFAULT_INTERVAL), km_data(patients, LINES), interval=HDI90)


def test_plot_km_ppc(patients):
    km = km_data(patients, LINES)
    band = _curves(DEFAULT_INTERVAL).assign(observed=0.5)
    ax = plot_km_ppc(band, km)
    assert isinstance(ax, Axes) and DEFAULT_INTERVAL.label in figure_text(ax.figure)
    fig = plot_km_ppc_lines(band, km)
    visible = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title() for a in visible] == list(LINES)
    assert DEFAULT_INTERVAL.label in figure_text(fig)


# --- binary posterior predictive check ----------------------------------------------------------

@pytest.fixture
def binary_idata() -> az.InferenceData:
    """Two sites, two lines, five rows; two chains of two draws of replicated y."""
    site_idx = np.array([0, 0, 1, 1, 1])
    line_idx = np.array([0, 1, 0, 1, 1])
    n = np.array([3, 3, 2, 1, 1])
    y_obs = np.array([1, 2, 0, 1, 0])
    reps = np.array([
        [[0, 2, 0, 1, 1], [1, 3, 1, 0, 0]],
        [[2, 1, 0, 1, 0], [1, 2, 2, 0, 1]],
    ])
    rng = np.random.default_rng(SEED)
    coords = {"site": ["A", "B"], "line": list(LINES), "obs": np.arange(5)}
    return az.from_dict(
        posterior={"p": rng.uniform(size=(2, 2, 2, 2))},
        posterior_predictive={"y": reps},
        observed_data={"y": y_obs},
        constant_data={"site_idx": site_idx, "line_idx": line_idx, "n": n},
        coords=coords,
        dims={"p": ["site", "line"], "y": ["obs"], "site_idx": ["obs"], "line_idx": ["obs"],
              "n": ["obs"]},
    )


def test_site_count_ppc_data_sums_rows_of_a_site_and_line(binary_idata):
    data = site_count_ppc_data(binary_idata)
    assert tuple(data.columns) == SITE_PPC_COLUMNS
    assert list(zip(data["site"], data["line"])) == [
        ("A", "ICI-1"), ("B", "ICI-1"), ("A", "ICI-2"), ("B", "ICI-2")]
    np.testing.assert_array_equal(data["n"], [3, 2, 3, 2])
    np.testing.assert_array_equal(data["observed"], [1, 0, 2, 1])
    # Replicated sums over the 4 draws: A/ICI-1 0,1,2,1; B/ICI-1 0,1,0,2;
    # A/ICI-2 2,3,1,2; B/ICI-2 (rows 3+4) 2,0,1,1.
    np.testing.assert_allclose(data["rep_mean"], [1.0, 0.75, 2.0, 1.0])
    np.testing.assert_allclose(data["p_value"], [0.75, 1.0, 0.75, 0.75])
    np.testing.assert_allclose(data["p_value_below"], [0.75, 0.5, 0.75, 0.75])
    assert (data["interval"] == DEFAULT_INTERVAL.short).all()
    assert surprising(data, DEFAULT_INTERVAL).empty


def test_site_count_ppc_needs_a_binary_fit(binary_idata):
    del binary_idata.posterior_predictive["y"]
    with pytest.raises(ValueError, match="posterior_predictive.y"):
        site_count_ppc_data(binary_idata)


def test_plot_site_count_ppc(binary_idata):
    data = site_count_ppc_data(binary_idata, interval=HDI90)
    ax = plot_site_count_ppc(data, interval=HDI90)
    assert isinstance(ax, Axes)
    assert len(ax.get_yticks()) == 2
    assert HDI90.label in figure_text(ax.figure)
    fig = plot_site_count_ppc_lines(data, interval=HDI90, title="Response")
    assert [a.get_title() for a in fig.axes] == list(LINES)
    assert HDI90.label in figure_text(fig)


# --- forest ------------------------------------------------------------------------------------

def _site_table() -> pd.DataFrame:
    rows = []
    for line, events in zip(LINES, ([1, 0, 3], [2, 1, 0])):
        for site, e, n in zip(["S1", "S2", "S3"], events, [4, 2, 5]):
            rows.append({"endpoint": "response", "quantity": "probability_site", "line": line,
                         "site": site, "n": n, "events": e, "mean": 0.3, "median": 0.3,
                         "lower": 0.1, "upper": 0.6, "interval": DEFAULT_INTERVAL.short})
    return pd.DataFrame(rows)


def _binary_summary() -> pd.DataFrame:
    rows = []
    for line in LINES:
        for q, (m, lo, hi) in {"probability_population": (0.3, 0.2, 0.4),
                               "probability_typical_site": (0.28, 0.18, 0.4),
                               "probability_new_site": (0.28, 0.05, 0.7)}.items():
            rows.append({"endpoint": "response", "quantity": q, "line": line, "mean": m,
                         "median": m, "lower": lo, "upper": hi,
                         "interval": DEFAULT_INTERVAL.short})
    rows.append({"endpoint": "response", "quantity": "difference_population",
                 "line": "ICI-2 vs ICI-1", "mean": 0.0, "median": 0.0, "lower": -0.1,
                 "upper": 0.1, "interval": DEFAULT_INTERVAL.short})
    return pd.DataFrame(rows)


def test_forest_data_rows_and_raw_intervals():
    data = forest_data(_site_table(), _binary_summary(), line="ICI-1")
    assert tuple(data.columns) == FOREST_COLUMNS
    assert list(data["kind"]) == ["site"] * 3 + ["population", "typical_site", "new_site"]
    assert list(data["row"]) == list(range(6))
    s3 = data[data["site"] == "S3"].iloc[0]
    ci = exact_proportion_ci(3, 5)
    assert s3["raw"] == pytest.approx(0.6)
    assert (s3["raw_lower"], s3["raw_upper"]) == pytest.approx((ci.lower, ci.upper))
    population = data[data["kind"] == "population"].iloc[0]
    assert (population["events"], population["n"]) == (4, 11)
    assert population["median"] == pytest.approx(0.3)
    assert data.loc[data["kind"] == "new_site", "raw"].isna().all()


def test_forest_data_uses_given_proportions_and_allows_empty_sites():
    table = _site_table()
    table["proportion"] = table["events"] / table["n"]
    table["proportion_lower"], table["proportion_upper"] = 0.01, 0.99
    table.loc[(table["site"] == "S2") & (table["line"] == "ICI-1"), ["n", "events"]] = 0
    table.loc[(table["site"] == "S2") & (table["line"] == "ICI-1"),
              ["proportion", "proportion_lower", "proportion_upper"]] = np.nan
    data = forest_data(table, _binary_summary(), line="ICI-1")
    assert data.loc[data["site"] == "S1", "raw_upper"].item() == pytest.approx(0.99)
    assert data.loc[data["site"] == "S2", "raw"].isna().all()
    ax = plot_forest(data)
    assert "0/0" not in figure_text(ax.figure) and "4/9" in figure_text(ax.figure)


def test_forest_data_checks_line_and_interval():
    with pytest.raises(ValueError, match="no rows of line"):
        forest_data(_site_table(), _binary_summary(), line="ICI-3")
    with pytest.raises(ValueError, match="same Interval"):
        forest_data(_site_table(), _binary_summary(), line="ICI-1", interval=HDI90)


def test_plot_forest():
    data = forest_data(_site_table(), _binary_summary(), line="ICI-2")
    ax = plot_forest(data, highlight_sites=["S3"])
    assert isinstance(ax, Axes)
    labels = ax.get_yticklabels()
    assert [t.get_text() for t in labels] == [
        "S1", "S2", "S3", "Population average", "Typical site", "New site (predictive)"]
    assert labels[2].get_fontweight() == "bold"
    text = figure_text(ax.figure)
    assert DEFAULT_INTERVAL.label in text and "2/4" in text and "3/11" in text
    assert ax.get_title() == "ICI-2"
    with pytest.raises(ValueError, match="highlight_sites"):
        plot_forest(data, highlight_sites=["S9"])


def test_plot_forest_lines():
    fig = plot_forest_lines(_site_table(), _binary_summary(), lines=LINES, title="Response")
    assert [a.get_title() for a in fig.axes] == list(LINES)
    assert all(len(a.get_yticks()) == 3 + 3 for a in fig.axes)
    assert DEFAULT_INTERVAL.label in figure_text(fig)


# --- contrast ----------------------------------------------------------------------------------

def test_contrast_data():
    draws = np.arange(1, 101, dtype=float) - 20.5  # 80 of 100 draws above 0
    data = contrast_data(draws, label="difference")
    assert tuple(data.columns) == CONTRAST_COLUMNS
    row = data.iloc[0]
    assert row["prob_greater"] == pytest.approx(0.8)
    assert (row["lower"], row["upper"]) == pytest.approx(DEFAULT_INTERVAL.bounds(draws))
    assert row["median"] == pytest.approx(30.0) and row["draws"] == 100


def test_plot_contrast():
    draws = np.random.default_rng(SEED).normal(0.05, 0.1, size=2000)
    ax = plot_contrast(draws, interval=HDI90, label="Difference (ICI-2 minus ICI-1)")
    assert isinstance(ax, Axes)
    text = figure_text(ax.figure)
    assert HDI90.label in text and "P(> 0) = " in text
    assert ax.get_xlabel() == "Difference (ICI-2 minus ICI-1)"


def test_plot_contrast_on_a_log_axis():
    draws = np.exp(np.random.default_rng(SEED).normal(0.1, 0.3, size=500))
    ax = plot_contrast(draws, label="Ratio of medians", reference=1.0, log_scale=True)
    assert ax.get_xscale() == "log" and "P(> 1) = " in figure_text(ax.figure)
    with pytest.raises(ValueError, match="positive"):
        plot_contrast(draws - 2, label="x", reference=1.0, log_scale=True)


# --- diagnostics --------------------------------------------------------------------------------

@pytest.fixture
def ranked_idata() -> az.InferenceData:
    rng = np.random.default_rng(SEED)
    r = rng.uniform(-0.5, 0.5, size=(2, 50))
    corr = np.ones((2, 50, 2, 2))
    corr[..., 0, 1] = corr[..., 1, 0] = r
    return az.from_dict(
        posterior={"mu": rng.normal(size=(2, 50, 2)), "tau": rng.gamma(2, size=(2, 50, 2)),
                   "site_corr": corr, "u_site": rng.normal(size=(2, 50, 7, 2))},
        coords={"line": list(LINES), "line_b": list(LINES), "site": list("abcdefg")},
        dims={"mu": ["line"], "tau": ["line"], "site_corr": ["line", "line_b"],
              "u_site": ["site", "line"]},
    )


def test_scalar_parameters_drop_constant_and_duplicate_correlations(ranked_idata):
    assert top_level_var_names(ranked_idata) == ["mu", "tau", "site_corr"]
    data = scalar_parameters(ranked_idata, var_names=["mu", "tau", "site_corr"])
    assert list(data.data_vars) == ["mu[ICI-1]", "mu[ICI-2]", "tau[ICI-1]", "tau[ICI-2]",
                                    "site_corr[ICI-1, ICI-2]"]
    with pytest.raises(ValueError, match="no posterior variables"):
        scalar_parameters(ranked_idata, var_names=["beta"])


def test_plot_ranks_and_rank_data(ranked_idata):
    names = top_level_var_names(ranked_idata)
    fig = plot_ranks(ranked_idata, var_names=names)
    assert isinstance(fig, Figure)
    assert sum(a.get_visible() for a in fig.axes) == 5
    ranks = rank_data(ranked_idata, var_names=names)
    assert tuple(ranks.columns) == RANK_COLUMNS
    assert len(ranks) == 5 * 100
    one = ranks[ranks["parameter"] == "mu[ICI-1]"]
    assert sorted(one["rank"]) == list(range(1, 101))


def test_many_elements_are_capped(ranked_idata):
    data = scalar_parameters(ranked_idata, var_names=["u_site"])
    assert len(data.data_vars) == MAX_PANELS < 14
    assert sum(a.get_visible() for a in plot_ranks(ranked_idata, var_names=["u_site"]).axes) \
        == MAX_PANELS


# --- print size ------------------------------------------------------------------------------------

def _print_size(fig: Figure, tmp_path) -> None:
    """Drawn at a journal width, text 7-9 pt, and saved at that width (nothing spilled)."""
    width_cm = fig.get_size_inches()[0] * 2.54
    assert min(abs(width_cm - 8.5), abs(width_cm - 17.5)) < 0.01
    sizes = {t.get_fontsize() for t in fig.findobj(Text) if t.get_text().strip()}
    assert sizes and min(sizes) >= 7 and max(sizes) <= 9, sizes
    png, _ = save_figure(fig, tmp_path, "print")
    pixels = struct.unpack(">I", png.read_bytes()[16:20])[0]
    assert PNG_DPI == 300 and abs(pixels / PNG_DPI * 2.54 - width_cm) < 0.01


def test_forest_plot_prints_estimates_heterogeneity_and_fits_its_width(tmp_path):
    summary = pd.concat([_binary_summary(), pd.DataFrame([
        {"endpoint": "response", "quantity": "tau", "line": line, "mean": 0.5, "median": 0.45,
         "lower": 0.02, "upper": 1.2, "interval": DEFAULT_INTERVAL.short} for line in LINES])])
    fig = plot_forest_lines(_site_table(), summary, lines=LINES, title="Response")
    text = figure_text(fig)
    assert "30.0% (10.0 to 60.0)" in text  # a site's posterior median and interval, as text
    assert "Between-site SD (log-odds): 0.45 (0.02 to 1.20)" in text
    assert "Prediction interval for a new site: 28.0% (5.0 to 70.0)" in text
    assert "1/4" in text and "r/n" in text
    _print_size(fig, tmp_path)


def test_rank_plot_titles_in_words_and_chains_from_one(ranked_idata, tmp_path):
    fig = plot_ranks(ranked_idata, var_names=top_level_var_names(ranked_idata))
    titles = [a.get_title() for a in fig.axes if a.get_visible()]
    assert not any(name in t for t in titles for name in ("mu", "tau", "site_corr", "["))
    assert "Between-site SD\nICI-1" in titles
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[0] == "1" and "0" not in labels
    _print_size(fig, tmp_path)


def test_contrast_and_survival_print_at_single_column_width(patients, tmp_path):
    ax = plot_contrast(np.random.default_rng(0).normal(0.02, 0.1, 2000) * 100, reference=0.0,
                       label="Grade 3-4 treatment-related adverse event: ICI-2 minus ICI-1, "
                             "percentage points (population average)")
    _print_size(ax.figure, tmp_path)
    survival = plot_survival(_curves(DEFAULT_INTERVAL), km_data(patients, LINES))
    ticks = [t for t in survival.get_xticks() if 0 <= t <= survival.get_xlim()[1]]
    assert all(t % 3 == 0 for t in ticks)
    _print_size(survival.figure, tmp_path)
