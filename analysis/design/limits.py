"""Limits on the sizes a design takes, checked before any work (``docs/design.md``).

Every operating characteristic is an exact sum over the binomial outcomes, so memory and time
grow with the number of patients: a one-sample design of ``n`` patients holds arrays of about
``101 x n`` numbers, a sample-size search evaluates one posterior probability per ``n`` tried,
and a two-sample design integrates one posterior probability per step of its boundary sweep
(about ``n_control + n_treatment`` per prior). The limits keep the largest design to seconds
and megabytes; they are far above the size of any rechallenge trial.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Most patients of a one-sample design (``--n``) and largest ``n`` searched (``--max-n``).
MAX_PATIENTS = 10_000
#: Most patients per arm of a two-sample design (``--control-n``, ``--treatment-n``).
MAX_ARM_PATIENTS = 1_000
#: Most extra true rates in an OC table (``--true-rates``).
MAX_TRUE_RATES = 100


def check_count(name: str, value: int, limit: int) -> None:
    """Raise a ValueError unless ``value`` is an integer from 1 to ``limit``.

    Parameters
    ----------
    name
        How the message names the value (e.g. ``"--n"`` or ``"n"``).
    value
        The count.
    limit
        Its largest allowed value.
    """
    try:
        whole = not isinstance(value, bool) and int(value) == value
    except (OverflowError, ValueError, TypeError):  # inf, nan, not a number
        whole = False
    if not whole or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    if value > limit:
        raise ValueError(f"{name} must be at most {limit:,} (the design's limit; see "
                         f"docs/design.md), got {value:,}")


def check_true_rates(rates: Sequence[float]) -> None:
    """Raise a ValueError unless there are at most :data:`MAX_TRUE_RATES` rates, each in [0, 1]."""
    if len(rates) > MAX_TRUE_RATES:
        raise ValueError(f"at most {MAX_TRUE_RATES} extra true rates, got {len(rates)}")
    bad = [r for r in rates if not 0 <= r <= 1]
    if bad:
        raise ValueError(f"true rates must be in [0, 1], got {bad[:10]}")
