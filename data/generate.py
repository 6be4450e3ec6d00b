"""Seeded generator of the shipped SYNTHETIC reconstruction of Scheiner et al. (JHEP Rep 2023).

The patient-level data of the reference study are not public. This module builds a synthetic
patient table that reproduces every figure of the abstract that can be computed from the package's
columns (counts, proportions, age, line numbers, regimen mix, Kaplan-Meier medians with their
linear 95% intervals). Published counts are imposed exactly; the random generator (seeded
``numpy.random.default_rng``) decides *which* patients carry them and draws the times. Choices made
where the publication is silent are listed in ``docs/data_dictionary.md``.

Usage::

    python -m rechallenge.data.generate            # rewrite the shipped CSV
    python -m rechallenge.data.generate --check    # exit 1 if the shipped CSV is not reproduced
    python -m rechallenge.data.generate --out PATH # write elsewhere
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from . import schema
from .atomic import write_text_atomic

# The generator and the reported figures share one implementation of the linear interval.
from .frequentist import collett_median_se, fit_km, km_median, z_value

#: Seed of the shipped file. Any seed yields a table meeting the published figures.
DEFAULT_SEED: Final = 20230105
FILENAME: Final = "synthetic_scheiner2023.csv"
SHIPPED_PATH: Final = Path(__file__).with_name(FILENAME)

COLUMNS: Final[tuple[str, ...]] = (
    schema.SITE, schema.PATIENT_ID, schema.LINE, schema.BEST_RESPONSE, schema.TTP_MONTHS,
    schema.PROGRESSED, schema.TRAE_GRADE_3_4, schema.REGIMEN_CLASS, schema.LINE_NUMBER,
    schema.SEX, schema.AGE,
)
LINES: Final = schema.DEFAULT_LINES

# ---- Published figures (abstract) ------------------------------------------------------------
N_PATIENTS: Final = 58
N_MALE: Final = 41
AGE_MEAN: Final = 65.0
AGE_SD: Final = 9.0  # sample SD (ddof=1)
REGIMEN_COUNTS: Final = {
    "ICI-1": {"ici_alone": 26, "dual_ici": 1, "ici_targeted": 31},
    "ICI-2": {"ici_alone": 4, "dual_ici": 12, "ici_targeted": 42},
}
RESPONDERS: Final = {"ICI-1": 13, "ICI-2": 15}
PD_AT_ICI1: Final = 21
ICI2_RESPONDERS_AFTER_PD: Final = 11
TRAE_COUNTS: Final = {"ICI-1": 9, "ICI-2": 10}
PROGRESSIONS_ICI1: Final = 52
#: Published KM median TTP (95% CI), months, as printed (one decimal).
PUBLISHED_TTP: Final = {"ICI-1": (5.4, 3.0, 7.7), "ICI-2": (5.2, 3.3, 7.0)}

# ---- Choices where the publication is silent (documented in docs/data_dictionary.md) ----------
#: Patients per site, S01..S14 (uneven; per-site counts are not published).
SITE_SIZES: Final = (4, 9, 2, 5, 3, 7, 2, 4, 6, 2, 5, 3, 4, 2)
#: Joint counts of (ICI-1 line number, ICI-2 line number): ICI-1 median 1 (1-4), ICI-2 median 3
#: (2-9), ICI-2 always later.
LINE_NUMBER_PAIRS: Final = {
    (1, 2): 14, (1, 3): 12, (1, 4): 6, (1, 5): 3, (1, 6): 1,
    (2, 3): 8, (2, 4): 4, (2, 5): 2,
    (3, 4): 3, (3, 5): 2, (3, 7): 1,
    (4, 5): 1, (4, 9): 1,
}
#: Best-response counts. CR/PR split, SD and NE are not published.
RESPONSE_COUNTS: Final = {
    "ICI-1": {"CR": 3, "PR": 10, "SD": 21, "PD": 21, "NE": 3},
    "ICI-2": {"CR": 2, "PR": 13, "SD": 18, "PD": 22, "NE": 3},
}
#: Why a line ended without observed progression (censored at the switch or at data cut-off).
#: Keys: (line, best-response group) -> {reason: count}. ICI-1: 6 censored (52 progressions,
#: published); ICI-2: 11 censored, i.e. 47 progressions (not published).
CENSORING: Final = {
    "ICI-1": {"NE": {"toxicity": 2, "deterioration": 1},
              "evaluable": {"toxicity": 2, "other": 1}},
    "ICI-2": {"NE": {"toxicity": 2, "deterioration": 1},
              "evaluable": {"toxicity": 2},
              "responder": {"ongoing": 4}, "SD": {"ongoing": 2}},
}
#: Medians and linear-interval half-widths (months) aimed at. Chosen inside the published
#: rounding so that one-decimal rendering gives exactly 5.4 (3.0-7.7) and 5.2 (3.3-7.0).
KM_TARGETS: Final = {"ICI-1": (5.37, 2.35), "ICI-2": (5.16, 1.85)}
# log-median TTP (months) of a progressing patient by best response, before rescaling.
_LOG_TTP: Final = {"CR": np.log(14.0), "PR": np.log(9.0), "SD": np.log(6.0), "PD": np.log(2.0)}
# (low, high) months for uniform censoring times by reason.
_CENSOR_TIME: Final = {"toxicity": (1.0, 5.0), "other": (2.0, 8.0), "ongoing": (9.0, 24.0),
                       "deterioration": (0.3, 1.5), "ne_toxicity": (0.3, 1.5)}


def _pick(rng: np.random.Generator, pool: np.ndarray, k: int,
          weights: np.ndarray | None = None) -> np.ndarray:
    """Choose ``k`` distinct items of ``pool`` (weighted without replacement), sorted."""
    if k > pool.size:
        raise AssertionError(f"cannot pick {k} of {pool.size}")
    p = None if weights is None else weights / weights.sum()
    return np.sort(rng.choice(pool, size=k, replace=False, p=p))


def _ages(rng: np.random.Generator, n: int) -> np.ndarray:
    """Integer ages whose mean and sample SD round to the published 65.0 and 9.0."""
    z = rng.standard_normal(n)
    z = (z - z.mean()) / z.std(ddof=1)
    ages = np.clip(np.rint(AGE_MEAN + AGE_SD * z), 35, 90).astype(int)
    target_sum = int(round(AGE_MEAN * n))
    order = np.argsort(z, kind="stable")
    # Nudge the middle of the distribution until the sum, hence the mean, is exact...
    for i in range(abs(target_sum - int(ages.sum()))):
        ages[order[n // 2 + (i % 5) - 2]] += np.sign(target_sum - ages.sum())
    # ...then widen or narrow the extremes in pairs (sum unchanged) until the SD rounds right.
    for step in range(n // 2):
        sd = ages.std(ddof=1)
        if round(sd, 1) == AGE_SD:
            break
        delta = 1 if sd < AGE_SD else -1
        ages[order[-1 - step % 5]] += delta
        ages[order[step % 5]] -= delta
    return ages


def _patients(rng: np.random.Generator) -> pd.DataFrame:
    """Patient-level columns: site, id, sex, age, site effects and a shared patient effect (frailty)."""
    labels = [f"S{i + 1:02d}" for i in range(len(SITE_SIZES))]
    sites = np.repeat(labels, SITE_SIZES)
    ids = [f"{s}-P{k + 1:02d}" for s, size in zip(labels, SITE_SIZES) for k in range(size)]
    # Mild site heterogeneity: a logit shift in response and a log shift in TTP per site.
    site_resp = dict(zip(labels, rng.normal(0.0, 0.3, len(labels))))
    site_ttp = dict(zip(labels, rng.normal(0.0, 0.15, len(labels))))
    idx = np.arange(N_PATIENTS)
    male = np.isin(idx, _pick(rng, idx, N_MALE))
    return pd.DataFrame({
        schema.SITE: sites, schema.PATIENT_ID: ids,
        schema.SEX: np.where(male, "M", "F"), schema.AGE: _ages(rng, N_PATIENTS),
        "resp_effect": [site_resp[s] for s in sites],
        "ttp_effect": [site_ttp[s] for s in sites],
        # Shared across a patient's two lines: TTPs of the same patient are correlated.
        "patient_effect": rng.normal(0.0, 0.3, N_PATIENTS),
    })


def _line_numbers(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    pairs = np.array([p for p, k in LINE_NUMBER_PAIRS.items() for _ in range(k)])
    pairs = pairs[rng.permutation(N_PATIENTS)]
    return pairs[:, 0], pairs[:, 1]


def _regimens(rng: np.random.Generator, line: str) -> np.ndarray:
    labels = np.array([c for c, k in REGIMEN_COUNTS[line].items() for _ in range(k)])
    return labels[rng.permutation(N_PATIENTS)]


def _responses(rng: np.random.Generator, resp_effect: np.ndarray) -> dict[str, np.ndarray]:
    """Best responses at both lines with the published 13, 15, 21 PD and 11/21 structure."""
    idx = np.arange(N_PATIENTS)
    good, bad = np.exp(resp_effect), np.exp(-resp_effect)
    out: dict[str, np.ndarray] = {}
    c1 = RESPONSE_COUNTS["ICI-1"]
    r1 = np.full(N_PATIENTS, "SD", dtype=object)
    resp = _pick(rng, idx, RESPONDERS["ICI-1"], good)
    r1[resp] = "PR"
    r1[_pick(rng, resp, c1["CR"])] = "CR"
    rest = np.setdiff1d(idx, resp)
    pd_ = _pick(rng, rest, c1["PD"], bad[rest])
    r1[pd_] = "PD"
    r1[_pick(rng, np.setdiff1d(rest, pd_), c1["NE"])] = "NE"
    out["ICI-1"] = r1

    c2 = RESPONSE_COUNTS["ICI-2"]
    r2 = np.full(N_PATIENTS, "SD", dtype=object)
    others = np.setdiff1d(idx, pd_)
    # Prior responders are a little likelier to respond again.
    w_others = good[others] * np.where(np.isin(others, resp), 2.0, 1.0)
    resp2 = np.concatenate([
        _pick(rng, pd_, ICI2_RESPONDERS_AFTER_PD, good[pd_]),
        _pick(rng, others, RESPONDERS["ICI-2"] - ICI2_RESPONDERS_AFTER_PD, w_others),
    ])
    r2[resp2] = "PR"
    r2[_pick(rng, np.sort(resp2), c2["CR"])] = "CR"
    rest2 = np.setdiff1d(idx, resp2)
    pd2 = _pick(rng, rest2, c2["PD"], bad[rest2])
    r2[pd2] = "PD"
    r2[_pick(rng, np.setdiff1d(rest2, pd2), c2["NE"])] = "NE"
    out["ICI-2"] = r2
    return out


def _stop_reasons(rng: np.random.Generator, line: str, best: np.ndarray) -> np.ndarray:
    """Why each line ended: 'progression' or a censoring reason from :data:`CENSORING`."""
    reason = np.full(N_PATIENTS, "progression", dtype=object)
    groups = {
        "NE": np.flatnonzero(best == "NE"),
        "responder": np.flatnonzero(np.isin(best, ("CR", "PR"))),
        "SD": np.flatnonzero(best == "SD"),
        "evaluable": np.flatnonzero(np.isin(best, ("CR", "PR", "SD"))),
    }
    for group, reasons in CENSORING[line].items():
        for why, k in reasons.items():
            free = groups[group][reason[groups[group]] == "progression"]
            reason[_pick(rng, free, k)] = why
    return reason


def _raw_times(rng: np.random.Generator, best: np.ndarray, reason: np.ndarray,
               shift: np.ndarray) -> np.ndarray:
    """Unscaled times: log-normal by best response if progressing, uniform by censoring reason.

    PD as best response means progression at the first assessment, so its spread is kept narrow.
    """
    noise = rng.normal(0.0, 1.0, N_PATIENTS)
    unif = rng.uniform(0.0, 1.0, N_PATIENTS)
    times = np.empty(N_PATIENTS)
    for i in range(N_PATIENTS):
        if reason[i] == "progression":
            spread, effect = (0.3, 0.5) if best[i] == "PD" else (0.4, 1.0)
            times[i] = np.exp(_LOG_TTP[best[i]] + effect * shift[i] + spread * noise[i])
        else:
            key = "ne_toxicity" if best[i] == "NE" and reason[i] == "toxicity" else reason[i]
            lo, hi = _CENSOR_TIME[key]
            times[i] = lo + (hi - lo) * unif[i]
    return times


def _rescale(times: np.ndarray, events: np.ndarray, median: float, half_width: float,
             level: float = 0.95) -> np.ndarray:
    """Monotone piecewise-linear rescaling so the KM median and its linear CI hit the targets.

    The Kaplan-Meier curve depends only on the order of the times and the censoring pattern, so
    S at every event, Greenwood's SE at the median and which events are u (last S >= 0.55), the
    median and l (first S <= 0.45) are fixed by the draw. Only the times of those three events
    matter: the median is placed at ``median`` and ``l - u`` set so that
    ``z * se = z * se_S * (l - u) / (S(u) - S(l)) = half_width``.
    """
    c = collett_median_se(fit_km(times, events, level))
    gap = half_width * (c.s_u - c.s_l) / (z_value(level) * c.survival_se)
    frac = (c.median - c.u) / (c.l - c.u)  # keep the drawn relative position of the median
    new_u = median - frac * gap
    new_l = new_u + gap
    if not (0.0 < frac < 1.0 and 0.0 < new_u < median < new_l):
        raise AssertionError(f"rescaling not monotone: u={new_u}, median={median}, l={new_l}")
    top = max(times.max(), c.l) + 1.0
    knots_x = [0.0, c.u, c.median, c.l, top]
    # Below u times scale with u; beyond l they keep their drawn spacing (slope 1), so the long
    # tail is not stretched by the ratio needed around the median.
    knots_y = [0.0, new_u, median, new_l, new_l + (top - c.l)]
    scaled = np.interp(times, knots_x, knots_y)
    # Two decimals; then break any tie the rounding made, keeping the drawn order.
    order = np.argsort(times, kind="stable")
    out = np.round(scaled, 2)
    prev = 0.0
    for i in order:
        out[i] = max(out[i], round(prev + 0.01, 2))
        prev = out[i]
    return out


def _trae(rng: np.random.Generator, line: str, reason: np.ndarray,
          regimen: np.ndarray) -> np.ndarray:
    """Grade 3-4 TRAE: every stop for toxicity, the rest weighted toward combinations."""
    flag = (reason == "toxicity").astype(int)
    free = np.flatnonzero(flag == 0)
    weights = np.where(regimen[free] == "ici_alone", 1.0, 2.0)
    flag[_pick(rng, free, TRAE_COUNTS[line] - int(flag.sum()), weights)] = 1
    return flag


def generate_synthetic_study(seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Generate the SYNTHETIC patient table reproducing the published figures.

    Parameters
    ----------
    seed
        Seed of ``numpy.random.default_rng``. The default gives the shipped file; every seed gives
        a table meeting the published figures (checked by :func:`check_published_figures`).

    Returns
    -------
    pandas.DataFrame
        116 rows (58 patients x 2 lines) in :data:`COLUMNS` order, sorted by site, patient, line.

    Raises
    ------
    AssertionError
        If the constructed table misses any published figure.
    """
    rng = np.random.default_rng(seed)
    pts = _patients(rng)
    ln1, ln2 = _line_numbers(rng)
    line_numbers = {"ICI-1": ln1, "ICI-2": ln2}
    best = _responses(rng, pts["resp_effect"].to_numpy())
    frames = []
    for line in LINES:
        regimen = _regimens(rng, line)
        reason = _stop_reasons(rng, line, best[line])
        shift = (pts["ttp_effect"] + pts["patient_effect"]).to_numpy()
        raw = _raw_times(rng, best[line], reason, shift)
        events = (reason == "progression").astype(int)
        median, half = KM_TARGETS[line]
        frames.append(pd.DataFrame({
            schema.SITE: pts[schema.SITE], schema.PATIENT_ID: pts[schema.PATIENT_ID],
            schema.LINE: line, schema.BEST_RESPONSE: best[line].astype(str),
            schema.TTP_MONTHS: _rescale(raw, events, median, half), schema.PROGRESSED: events,
            schema.TRAE_GRADE_3_4: _trae(rng, line, reason, regimen),
            schema.REGIMEN_CLASS: regimen, schema.LINE_NUMBER: line_numbers[line],
            schema.SEX: pts[schema.SEX], schema.AGE: pts[schema.AGE],
        }))
    df = (pd.concat(frames, ignore_index=True)
          .sort_values([schema.SITE, schema.PATIENT_ID, schema.LINE], kind="stable")
          .reset_index(drop=True)[list(COLUMNS)])
    check_published_figures(df)
    return df


def check_published_figures(df: pd.DataFrame) -> None:
    """Raise ``AssertionError`` naming the first published figure ``df`` does not reproduce."""
    def by_line(line: str) -> pd.DataFrame:
        return df[df[schema.LINE] == line].set_index([schema.SITE, schema.PATIENT_ID])

    one, two = by_line("ICI-1"), by_line("ICI-2")
    assert len(df) == 2 * N_PATIENTS and len(one) == len(two) == N_PATIENTS, "58 patients x 2"
    assert sorted(df[schema.SITE].unique()) == [f"S{i:02d}" for i in range(1, 15)], "14 sites"
    patient = one[[schema.SEX, schema.AGE]]
    assert patient.equals(two.loc[one.index, [schema.SEX, schema.AGE]]), "sex/age per patient"
    assert (patient[schema.SEX] == "M").sum() == N_MALE, "41 male"
    assert round(patient[schema.AGE].mean(), 1) == AGE_MEAN, "age mean 65.0"
    assert round(patient[schema.AGE].std(ddof=1), 1) == AGE_SD, "age SD 9.0"
    for frame, (med, lo, hi) in ((one, (1, 1, 4)), (two, (3, 2, 9))):
        ln = frame[schema.LINE_NUMBER]
        assert (ln.median(), ln.min(), ln.max()) == (med, lo, hi), "line number median (range)"
    assert (two.loc[one.index, schema.LINE_NUMBER] > one[schema.LINE_NUMBER]).all(), "ICI-2 later"
    for line, frame in (("ICI-1", one), ("ICI-2", two)):
        counts = frame[schema.REGIMEN_CLASS].value_counts().to_dict()
        assert counts == REGIMEN_COUNTS[line], f"regimen mix {line}"
        responders = frame[schema.BEST_RESPONSE].isin(schema.RESPONSE_EVENTS)
        assert responders.sum() == RESPONDERS[line], f"responders {line}"
        assert frame[schema.TRAE_GRADE_3_4].sum() == TRAE_COUNTS[line], f"TRAE {line}"
        assert (frame[schema.TTP_MONTHS] > 0).all(), f"TTP > 0 {line}"
        km = km_median(frame[schema.TTP_MONTHS], frame[schema.PROGRESSED], method="linear")
        got = tuple(round(v, 1) for v in (km.median, km.lower, km.upper))
        assert got == PUBLISHED_TTP[line], f"KM median TTP {line}: {got}"
    assert one[schema.PROGRESSED].sum() == PROGRESSIONS_ICI1, "52 progressions at ICI-1"
    pd_at_1 = one[schema.BEST_RESPONSE] == "PD"
    assert pd_at_1.sum() == PD_AT_ICI1, "21 PD at ICI-1"
    resp_2 = two.loc[one.index, schema.BEST_RESPONSE].isin(schema.RESPONSE_EVENTS)
    assert (resp_2 & pd_at_1).sum() == ICI2_RESPONDERS_AFTER_PD, "11/21 after PD"


def render_csv(df: pd.DataFrame) -> str:
    """Deterministic CSV text: fixed column order, two-decimal times, ``\\n`` line endings."""
    out = df[list(COLUMNS)].copy()
    out[schema.TTP_MONTHS] = out[schema.TTP_MONTHS].map(lambda v: f"{v:.2f}")
    for col in (schema.PROGRESSED, schema.TRAE_GRADE_3_4, schema.LINE_NUMBER, schema.AGE):
        out[col] = out[col].astype(int)
    return out.to_csv(index=False, lineterminator="\n")


def main(argv: list[str] | None = None) -> int:
    """Command line entry: write the shipped file, or ``--check`` it."""
    parser = argparse.ArgumentParser(prog="python -m rechallenge.data.generate",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SHIPPED_PATH,
                        help="file to write (or, with --check, to compare); default: shipped CSV")
    parser.add_argument("--check", action="store_true",
                        help="regenerate in memory; exit 1 unless it equals the file byte for byte")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    text = render_csv(generate_synthetic_study(args.seed))
    if args.check:
        try:
            same = args.out.read_bytes() == text.encode("utf-8")
        except FileNotFoundError:
            same = False
        print(f"{args.out.name}: {'reproduced' if same else 'DIFFERS from the generator'}")
        return 0 if same else 1
    write_text_atomic(args.out, text)
    print(f"wrote {args.out.name} ({text.count(chr(10)) - 1} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
