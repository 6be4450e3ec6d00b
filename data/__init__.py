"""Data contract: schema, loaders, validation, and the shipped synthetic dataset.

Typical use::

    from rechallenge.data import load_study, example_study, DataValidationError

    study = load_study(["site_a.csv", "site_b.xlsx"], aggregate_files=["counts.csv"])
    example = example_study()          # SYNTHETIC reconstruction of Scheiner et al. (2023)

Every loader validates its input completely and raises one :class:`DataValidationError` listing
every problem (file, row as counted in the file with the header as row 1, column, value, what was
expected). The contract is described in ``docs/data_format.md``.
"""

from . import schema
from ._tables import line_label_problems
from .check import FileSummary, StudyCheck, check_study
from .endpoints import binary_outcome, paired_table, site_line_counts, with_binary_endpoints
from .errors import DataValidationError, ValidationIssue
from .load import (
    EXAMPLE_FILE,
    EXAMPLE_SOURCE,
    example_study,
    file_kind,
    load_example,
    load_study,
    read_aggregate,
    read_patients,
)
from .study import Study
from .validate import empty_aggregates, empty_patients, validate_aggregate, validate_patients

__all__ = [
    "schema",
    "Study",
    "DataValidationError",
    "ValidationIssue",
    "EXAMPLE_FILE",
    "EXAMPLE_SOURCE",
    "read_patients",
    "read_aggregate",
    "load_study",
    "file_kind",
    "check_study",
    "StudyCheck",
    "FileSummary",
    "load_example",
    "example_study",
    "validate_patients",
    "validate_aggregate",
    "empty_patients",
    "empty_aggregates",
    "binary_outcome",
    "with_binary_endpoints",
    "site_line_counts",
    "paired_table",
    "line_label_problems",
]
