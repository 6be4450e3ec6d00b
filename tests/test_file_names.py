"""File names never come from labels as they are: safe, unique stems, and line labels checked.

The end-to-end run with hostile labels is in ``test_hostile_labels_run.py``.
"""

from __future__ import annotations

import re

import pytest

from rechallenge.analysis.map_prior.rbest import rbest_file_names, rbest_files
from rechallenge.analysis.settings.file_names import (
    HASH_LENGTH,
    MAX_STEM_LENGTH,
    safe_file_stem,
    safe_file_stems,
)

SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
HOSTILE = [
    "2nd|<i>line</i> & 50%", "../../x", "..", ".", "", " ", "/", "a/b", "a\\b", "C:", "CON",
    "nul", "-rf", "_x", "x" * 500, "Zürich – Nord", "日本", "a b", "A/B", "a-b", "a_b",
    "response_ICI-1", "RESPONSE_ici-1", "$(rm -rf ~)", "x.json", "~", "*", "?", ":",
]


def test_a_plain_label_keeps_its_name():
    for label in ("response_ICI-1", "ttp_ICI-2", "S01", "line_3"):
        assert safe_file_stem(label) == label


@pytest.mark.parametrize("label", HOSTILE)
def test_every_stem_is_a_plain_bounded_name(label, tmp_path):
    stem = safe_file_stem(label)
    assert SAFE.match(stem), (label, stem)
    assert stem not in (".", "..") and len(stem) <= MAX_STEM_LENGTH + 1 + HASH_LENGTH
    assert stem.split("-")[0].upper() not in ("CON", "NUL") or stem != label
    path = tmp_path / f"{stem}.json"
    path.write_text("{}")  # the file system takes it, inside the folder
    assert path.resolve().parent == tmp_path.resolve()
    assert safe_file_stem(label) == stem  # the same label always gets the same name


def test_a_changed_label_gets_a_hash_so_labels_that_slug_alike_stay_apart():
    stems = safe_file_stems(HOSTILE)
    assert len(stems) == len(set(HOSTILE))
    folded = [s.casefold() for s in stems.values()]
    assert len(set(folded)) == len(folded)  # unique on case-insensitive file systems too
    assert stems["a/b"] != stems["a b"] != stems["a-b"] and stems["a-b"] == "a-b"
    assert re.fullmatch(r"2nd-i-line-i-50-[0-9a-f]{8}", stems["2nd|<i>line</i> & 50%"])


def test_a_taken_stem_is_not_given_again():
    assert safe_file_stem("S01", ["s01"]) != "S01"
    first = safe_file_stem("a/b")
    assert safe_file_stem("a/b", [first]) not in (first, "")


def test_rbest_files_of_hostile_lines_are_safe_unique_and_mapped():
    beta = {"family": "beta", "weights": [0.8, 0.2], "a": [6.0, 1.0], "b": [25.0, 1.0]}
    entry = {"robust_mixture": beta, "robust_weight": 0.2, "robust_component": {"a": 1, "b": 1}}
    lines = ["2nd|<i>line</i> & 50%", "../../x", "ICI-1", "ici_1"]
    record = {"endpoints": {"response": {line: entry for line in lines}}}
    names = rbest_file_names(record)
    assert set(names) == {("response", line) for line in lines}
    assert len(set(names.values())) == len(lines)
    assert all(SAFE.match(n.removesuffix(".json")) for n in names.values())
    assert names["response", "ICI-1"] == "response_ICI-1.json"
    assert sorted(rbest_files(record)) == sorted(names.values())
