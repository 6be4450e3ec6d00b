"""The data contract: column names, allowed values and endpoint definitions.

Everything that reads, validates, models or reports study data takes its vocabulary from here, so
one name means one thing in code, InferenceData, tables and docs.

Patient table (long format, one row per patient per treatment line)
--------------------------------------------------------------------
``site``, ``patient_id``, ``line`` identify a row. ``best_response`` is one of CR, PR, SD, PD, NE.
``ttp_months`` (> 0) with ``progressed`` (1 = progression observed, 0 = censored) follow the
survival vocabulary of lifelines (duration, event observed). ``trae_grade_3_4`` is 0/1.
``regimen_class``, ``line_number``, ``sex`` and ``age`` are optional; ``sex`` and ``age`` are
patient-level and must not change between a patient's lines. The optional ``source`` column says
where a row came from; a row whose source starts with ``reconstructed:`` holds pseudo patient data
reconstructed from a published Kaplan-Meier curve (:mod:`rechallenge.data.reconstruct`): it
carries time to progression only, and its other endpoint columns may be blank.

Aggregate table (sites that share only counts)
----------------------------------------------
``site``, ``line``, ``endpoint``, ``n`` and ``events`` for binary endpoints. A TTP row
(``endpoint == "ttp"``) gives ``median_months`` with its 95% interval ``median_lower`` and
``median_upper`` (``events`` optional), and enters the TTP model through the approximate
likelihood on the log median documented in ``docs/models.md``.
"""

from __future__ import annotations

from typing import Final

#: Default treatment-line labels, in order.
DEFAULT_LINES: Final[tuple[str, ...]] = ("ICI-1", "ICI-2")

#: Allowed best overall responses (RECIST / mRECIST categories; NE = not evaluable).
RESPONSES: Final[tuple[str, ...]] = ("CR", "PR", "SD", "PD", "NE")

#: Best responses counted as events for each derived binary endpoint. NE stays in the
#: denominator (intention to treat) unless the caller drops NE rows first.
RESPONSE_EVENTS: Final[frozenset[str]] = frozenset({"CR", "PR"})
DISEASE_CONTROL_EVENTS: Final[frozenset[str]] = frozenset({"CR", "PR", "SD"})

#: Binary endpoints and the patient-table column each is derived from.
BINARY_ENDPOINTS: Final[tuple[str, ...]] = ("response", "disease_control", "toxicity")
#: The time-to-event endpoint.
TTP_ENDPOINT: Final[str] = "ttp"
ENDPOINTS: Final[tuple[str, ...]] = BINARY_ENDPOINTS + (TTP_ENDPOINT,)

#: Human-readable endpoint labels for tables and figures.
ENDPOINT_LABELS: Final[dict[str, str]] = {
    "response": "Objective response (CR or PR)",
    "disease_control": "Disease control (CR, PR or SD)",
    "toxicity": "Grade 3-4 treatment-related adverse event",
    "ttp": "Time to progression",
}

# Patient-table columns.
SITE: Final = "site"
PATIENT_ID: Final = "patient_id"
LINE: Final = "line"
BEST_RESPONSE: Final = "best_response"
TTP_MONTHS: Final = "ttp_months"
PROGRESSED: Final = "progressed"
TRAE_GRADE_3_4: Final = "trae_grade_3_4"
REGIMEN_CLASS: Final = "regimen_class"
LINE_NUMBER: Final = "line_number"
SEX: Final = "sex"
AGE: Final = "age"

SOURCE: Final = "source"
#: Prefix of ``source`` values that mark reconstructed rows (TTP only, other endpoints blank).
RECONSTRUCTED_PREFIX: Final = "reconstructed:"
#: The ``source`` value written by :mod:`rechallenge.data.reconstruct` (Guyot et al. 2012).
RECONSTRUCTED_SOURCE: Final = f"{RECONSTRUCTED_PREFIX}Guyot2012"

PATIENT_KEY_COLUMNS: Final[tuple[str, ...]] = (SITE, PATIENT_ID, LINE)
PATIENT_OPTIONAL_COLUMNS: Final[tuple[str, ...]] = (REGIMEN_CLASS, LINE_NUMBER, SEX, AGE, SOURCE)
#: Columns that describe the patient, not the line: constant across a patient's rows.
PATIENT_LEVEL_COLUMNS: Final[tuple[str, ...]] = (SEX, AGE)

#: Columns each endpoint needs in the patient table (beyond the key columns).
ENDPOINT_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "response": (BEST_RESPONSE,),
    "disease_control": (BEST_RESPONSE,),
    "toxicity": (TRAE_GRADE_3_4,),
    "ttp": (TTP_MONTHS, PROGRESSED),
}

#: Regimen classes of the reference study (free text is allowed in user data).
REGIMEN_CLASSES: Final[tuple[str, ...]] = ("ici_alone", "dual_ici", "ici_targeted")
SEXES: Final[tuple[str, ...]] = ("M", "F")

# Aggregate-table columns.
ENDPOINT: Final = "endpoint"
N: Final = "n"
EVENTS: Final = "events"
MEDIAN_MONTHS: Final = "median_months"
MEDIAN_LOWER: Final = "median_lower"
MEDIAN_UPPER: Final = "median_upper"
AGGREGATE_KEY_COLUMNS: Final[tuple[str, ...]] = (SITE, LINE, ENDPOINT)
AGGREGATE_COLUMNS: Final[tuple[str, ...]] = (
    SITE, LINE, ENDPOINT, N, EVENTS, MEDIAN_MONTHS, MEDIAN_LOWER, MEDIAN_UPPER,
)

# ---- Limits on input ---------------------------------------------------------------------------
# Checked at validation, so a hostile or damaged file is refused with its row and column instead of
# breaking a model or an output later. docs/data_format.md lists them for users.

#: Longest label, in characters after removing surrounding spaces: site, patient_id,
#: regimen_class and header names (column names may be covariate names in reports).
MAX_LABEL_LENGTH: Final = 100
#: Longest cell of any other column (free-text columns outside the contract included).
MAX_CELL_LENGTH: Final = 1_000
#: Plausible times in months (ttp_months, median_months and its 95% limits): 1e-6 months is about
#: 3 seconds, 1,200 months is 100 years. Anything outside is a unit or typing error.
MIN_MONTHS: Final = 1e-6
MAX_MONTHS: Final = 1_200.0
#: Largest ``n`` (and ``events``) of an aggregate row: patients of one site and line.
MAX_PATIENTS: Final = 1_000_000
#: Ages are years from 0 to this.
MAX_AGE: Final = 120.0
#: Largest ``line_number`` (systemic treatment line).
MAX_LINE_NUMBER: Final = 100
#: Excel workbooks: most columns, most cells (rows x columns, as declared by the sheet or as read)
#: and most uncompressed bytes of the whole workbook; larger workbooks are refused before their
#: cells are read, so memory stays bounded.
MAX_XLSX_COLUMNS: Final = 1_000
MAX_XLSX_CELLS: Final = 20_000_000
MAX_XLSX_UNCOMPRESSED_BYTES: Final = 1024 * 2**20
#: Text and Excel tables (patient, aggregate, curve and at-risk files): largest file, most data
#: rows (blank rows not counted), most columns and longest physical line of a text file. A file
#: beyond the size is refused from its metadata before it is opened; the others stop the reading
#: where they are passed, so memory stays bounded (about 1 GB at the row limit, see
#: docs/data_format.md). The row limit is the scale the loader is benchmarked at
#: (benchmarks/validate_large.py), far above any study of treatment lines.
MAX_TABLE_BYTES: Final = 128 * 2**20
MAX_TABLE_ROWS: Final = 1_000_000
MAX_TABLE_COLUMNS: Final = 1_000
MAX_LINE_CHARACTERS: Final = 2**20
