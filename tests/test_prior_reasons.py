"""Text about the data is computed from the data: the priors' reasons count the study's sites.

The reasons of the default priors said "with 14 small sites" (the shipped study) whatever the
study; a report of one site or of forty said 14. The defaults now hold no fact of any one study,
and the priors table adds the counts of the study it reports. End to end (a five-site study):
``test_hostile_labels_run.py``.
"""

from __future__ import annotations

import re

import pytest
from conftest import SEED

from rechallenge.analysis.reporting.prose import methods_paragraph
from rechallenge.analysis.reporting.run_tables import priors_table
from rechallenge.analysis.settings.intervals import Interval
from rechallenge.analysis.summaries.diagnostics import Thresholds
from rechallenge.data import Study, example_study, schema
from rechallenge.models.binary import BINARY_PRIORS
from rechallenge.models.priors import Priors
from rechallenge.models.ttp import TTP_PRIORS

#: Facts of the shipped study that no default may state: its counts and its line labels.
STUDY_FACTS = re.compile(r"\b(14|58)\s+(small\s+)?(sites|patients|institutions)\b|ICI-[12]")


def _one_site() -> Study:
    study = example_study()
    return Study(study.patients[study.patients[schema.SITE] == "S03"].reset_index(drop=True),
                 lines=study.lines)


def _forty_sites() -> Study:
    """The shipped patients, the first forty each at a site of their own."""
    study = example_study()
    patients = study.patients.copy()
    ids = list(dict.fromkeys(zip(patients[schema.SITE], patients[schema.PATIENT_ID])))[:40]
    site_of = {key: f"T{i + 1:02d}" for i, key in enumerate(ids)}
    keys = list(zip(patients[schema.SITE], patients[schema.PATIENT_ID]))
    keep = [k in site_of for k in keys]
    patients = patients[keep].copy()
    patients[schema.SITE] = [site_of[k] for k in zip(patients[schema.SITE],
                                                     patients[schema.PATIENT_ID])]
    return Study(patients.reset_index(drop=True), lines=study.lines)


def _attrs(endpoint: str) -> dict:
    defaults, family = ((TTP_PRIORS, "ttp") if endpoint == schema.TTP_ENDPOINT
                        else (BINARY_PRIORS, "binary"))
    return {"priors": Priors(defaults, model=family).to_dict(), "options": {"pooling": "partial"}}


def test_no_default_reason_states_a_fact_of_one_study():
    for name, default in {**BINARY_PRIORS, **TTP_PRIORS}.items():
        assert not STUDY_FACTS.search(default.reason), (name, default.reason)


@pytest.mark.parametrize(("make", "sites", "says"), [
    (_one_site, 1, "This study: 1 site ("),
    (_forty_sites, 40, "This study: 40 sites, a median of 1 patient per site and line."),
    (example_study, 14, "This study: 14 sites, a median of 4 patients per site and line."),
])
def test_the_priors_table_counts_the_sites_of_the_study_it_reports(make, sites, says):
    from rechallenge.models.priors import study_size

    study = make()
    assert study_size(study, "response").sites == sites == len(study.sites)
    table = priors_table({e: _attrs(e) for e in ("response", "ttp")},
                         {e: study_size(study, e) for e in ("response", "ttp")}).frame
    about_sites = table[table["name"].isin(["tau_sd", "lkj_eta"])]
    assert len(about_sites) == 4 and about_sites["reason"].str.contains(says, regex=False).all()
    others = table[~table["name"].isin(["tau_sd", "lkj_eta"])]
    assert not others["reason"].str.contains("This study").any()
    text = " ".join(table["reason"])
    assert "1 sites" not in text and "1 patients" not in text
    assert not STUDY_FACTS.search(text) or sites == 14


def test_one_site_is_said_to_leave_the_between_site_prior_alone():
    from rechallenge.models.priors import StudySize

    sentence = StudySize(1, 7.0).sentence()
    assert sentence.startswith("This study: 1 site (7 patients per line, median)")
    assert "say nothing about differences between sites" in sentence


def test_counts_in_reader_text_agree_with_their_number():
    from rechallenge.analysis.reporting.vocabulary import counted

    assert [counted(n, "site") for n in (0, 1, 2, 40)] == ["0 sites", "1 site", "2 sites",
                                                             "40 sites"]
    assert counted(4.5, "patient") == "4.5 patients"
    attrs = {"sampler": {"backend": "nutpie", "chains": 2, "draws": 100, "tune": 100,
                         "target_accept": 0.9, "seed": SEED},
             "versions": {}, "priors": Priors(BINARY_PRIORS, model="binary").to_dict()}
    common = dict(fit_attrs={"response": attrs}, interval=Interval(), thresholds=Thresholds(),
                  lines=("A", "B"), synthetic=False, sensitivity=False, comparators=False)
    one = methods_paragraph(n_patients=1, n_sites=1, **common)
    assert "1 patient at 1 institution, treated at A and B." in one
    many = methods_paragraph(n_patients=40, n_sites=40, every_line=True, **common)
    assert "40 patients at 40 institutions, each treated at A and B." in many
