"""``[ttp] families`` end to end: a small run of the shipped data whose main TTP model is the
log-normal, with the Weibull fitted beside it (issue 25): the comparison table, its sentence,
the gate over both fits, the log-normal's priors and no machine name in the reader's text.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from conftest import small_config

from rechallenge.analysis.settings.config import TtpConfig

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def families_run(tmp_path_factory: pytest.TempPathFactory, engine) -> Path:
    from rechallenge.analysis.run.pipeline import analyze

    base = small_config()
    config = replace(base, analysis=replace(base.analysis, endpoints=("ttp",)),
                     ttp=TtpConfig(families=("lognormal", "weibull")))
    out = tmp_path_factory.mktemp("families") / "run"
    analyze(config, out, allow_unconverged=True, engine=engine)
    return out


def test_the_other_distribution_is_fitted_compared_and_gated(families_run: Path) -> None:
    table = pd.read_csv(families_run / "tables" / "ttp_distributions.csv")
    assert sorted(table["distribution"]) == ["lognormal", "weibull"]
    assert table.loc[table["main"], "distribution"].tolist() == ["lognormal"]
    assert sorted(table["rank"]) == [1, 2] and abs(table["weight"].sum() - 1) < 1e-6
    assert (table["prob_greater_population[ICI-2 vs ICI-1]"].between(0, 1)).all()
    assert (families_run / "fits" / "ttp__weibull.nc").exists()
    diagnostics = pd.read_csv(families_run / "tables" / "diagnostics_overview.csv")
    assert "ttp__weibull" in set(diagnostics["model"])
    report = (families_run / "report.md").read_text(encoding="utf-8")
    assert "Of 2 survival distributions of time to progression, the data favour the" in report
    assert "log-normal likelihood with right censoring" in report
    supplement = (families_run / "supplement.md").read_text(encoding="utf-8")
    assert "## Survival distributions compared" in supplement
    priors = pd.read_csv(families_run / "tables" / "priors.csv")
    main, beside = priors[priors["endpoint"] == "ttp"], priors[priors["endpoint"] == "ttp__weibull"]
    assert "sigma_log_sd" in set(main["name"]) and "shape_log_sd" not in set(main["name"])
    assert "shape_log_sd" in set(beside["name"]) and "sigma_log_sd" not in set(beside["name"])


def test_the_reader_sees_the_other_distribution_by_its_name(families_run: Path) -> None:
    supplement = (families_run / "supplement.md").read_text(encoding="utf-8")
    assert "Time to progression, Weibull distribution" in supplement  # diagnostics and priors
    assert "Time to progression, weibull" not in supplement
    priors = pd.read_csv(families_run / "tables" / "reader" / "priors.csv")
    assert "Time to progression, Weibull distribution" in set(priors.iloc[:, 0].dropna())


def test_no_machine_name_reaches_a_reader_of_another_distribution(families_run: Path) -> None:
    from rechallenge.analysis.reporting.vocabulary import MACHINE_NAMES

    for name in ("report.md", "supplement.md"):
        text = (families_run / name).read_text(encoding="utf-8")
        found = sorted(m for m in MACHINE_NAMES
                       if re.search(rf"(?<![\w/.]){re.escape(m)}(?![\w])", text))
        assert not found, f"{name} shows machine names {found}"
        code = sorted(set(re.findall(r"(?<![\w/.])(mu|tau|eta|beta|sigma|lkj_eta|log_sigma"
                                     r"|log_shape|z_site)(?![\w])", text)))
        assert not code, f"{name} shows the code's parameter names {code}"


def test_the_comparison_shows_the_data_median_above_the_distributions(families_run: Path) -> None:
    from rechallenge.analysis.settings.intervals import DEFAULT_INTERVAL
    from rechallenge.analysis.summaries.family_comparison import observed_medians
    from rechallenge.data.load import example_study

    table = pd.read_csv(families_run / "tables" / "reader" / "ttp_distributions.csv",
                        keep_default_na=False)
    assert table.iloc[0]["Distribution"] == "Kaplan-Meier (data)"
    assert table.iloc[0]["Rank"] == "" and len(table) == 3
    for line, km in observed_medians(example_study(), DEFAULT_INTERVAL).items():
        assert table.iloc[0][f"Median TTP {line}, months"].startswith(f"{km.median:.1f} (")


def test_the_shrinkage_note_names_no_distribution_the_run_may_not_use(families_run: Path) -> None:
    supplement = (families_run / "supplement.md").read_text(encoding="utf-8")
    assert "moves its fitted survival curve while leaving the Kaplan-Meier median" in supplement
    assert "Weibull fit" not in supplement  # the main model here is the log-normal
