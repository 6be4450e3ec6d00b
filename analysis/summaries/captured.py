"""Library warnings raised while computing a result, counted instead of printed.

ArviZ warns once per call when a Pareto k is high, PyMC and nutpie warn during sampling; printed
raw they scroll past in the terminal and say nothing about which table they concern. Steps that
raise them run inside :func:`captured_warnings`, which records them; the counts travel with the
result and are reported where they matter (the LOO table's note, the diagnostics section).
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Final

#: Short descriptions of the warnings the report explains, by a pattern of their message.
KNOWN: Final[dict[str, str]] = {
    r"shape parameter of Pareto distribution is greater than": "Pareto k above ArviZ's threshold",
    r"divergen": "divergent transitions",
    r"maximum tree ?depth": "maximum tree depth reached",
    r"R-hat|rhat": "R-hat warning of the sampler",
    r"effective sample size|ESS": "small effective sample size",
    r"BLAS": "no optimised BLAS (speed only)",
}


def warning_kind(message: str) -> str:
    """A short description of a warning: the :data:`KNOWN` one, else its first sentence."""
    for pattern, words in KNOWN.items():
        if re.search(pattern, message, flags=re.IGNORECASE):
            return words
    first = message.strip().split("\n")[0].split(". ")[0]
    return first[:120]


@contextmanager
def captured_warnings() -> Iterator[Counter[str]]:
    """Record every warning raised inside the block; yield a counter of their kinds.

    The counter fills when the block ends; nothing is printed. Every occurrence is counted
    (``simplefilter("always")``), not only the first per call site.
    """
    counts: Counter[str] = Counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield counts
    counts.update(warning_kind(str(w.message)) for w in caught)


def describe_counts(counts: Mapping[str, int]) -> str:
    """``"Pareto k above ArviZ's threshold (12 warnings)"``, kinds joined by semicolons."""
    return "; ".join(f"{kind} ({n} warning{'s' if n != 1 else ''})"
                     for kind, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def classify(messages: dict[str, int]) -> dict[str, int]:
    """Counts by raw message (as a fit records them) -> counts by :func:`warning_kind`."""
    counts: Counter[str] = Counter()
    for message, n in messages.items():
        counts[warning_kind(message)] += int(n)
    return dict(counts)
