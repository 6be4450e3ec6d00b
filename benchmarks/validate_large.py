"""Time and peak memory of validating one large patient CSV, as ``rechallenge validate`` does.

Writes a seeded patient table of ``--rows`` rows (default 1,000,000: 500,000 patients x 2 lines
at 100 sites, every contract column) to a temporary directory, then runs the command-line
validation in this process and reports wall time and the peak resident memory of the process.
Generating the file is not timed.

    python benchmarks/validate_large.py --rows 1000000

Peak memory is ``ru_maxrss`` (Linux: KiB) of this process, measured after the file is written
and again after validation; the generator's own arrays are freed before validation starts.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SEED = 20230105
HEADER = ("site,patient_id,line,best_response,ttp_months,progressed,trae_grade_3_4,"
          "regimen_class,line_number,sex,age")


def write_patients(path: Path, rows: int, sites: int = 100) -> None:
    """A valid patient table of ``rows`` rows (two lines per patient), written in chunks."""
    rng = np.random.default_rng(SEED)
    patients = rows // 2
    responses = np.array(["CR", "PR", "SD", "PD", "NE"])
    regimens = np.array(["ici_alone", "dual_ici", "ici_targeted"])
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\n")
        chunk = 50_000
        for start in range(0, patients, chunk):
            ids = np.arange(start, min(start + chunk, patients))
            site = ids % sites
            sex = rng.choice(["M", "F"], size=len(ids))
            age = rng.integers(30, 90, size=len(ids))
            lines = []
            for line, number in (("ICI-1", 1), ("ICI-2", 2)):
                resp = rng.choice(responses, size=len(ids))
                ttp = np.round(rng.exponential(6.0, size=len(ids)) + 0.1, 2)
                prog = rng.integers(0, 2, size=len(ids))
                tox = rng.integers(0, 2, size=len(ids))
                reg = rng.choice(regimens, size=len(ids))
                lines.append((line, number, resp, ttp, prog, tox, reg))
            buf = io.StringIO()
            for i, pid in enumerate(ids):
                for line, number, resp, ttp, prog, tox, reg in lines:
                    buf.write(f"S{site[i]:03d},S{site[i]:03d}-P{pid:07d},{line},{resp[i]},"
                              f"{ttp[i]},{prog[i]},{tox[i]},{reg[i]},{number},{sex[i]},{age[i]}\n")
            out.write(buf.getvalue())


def peak_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    """Write the table, validate it through the CLI entry point and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    from rechallenge.analysis.cli import main as cli_main

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "patients.csv"
        write_patients(path, args.rows)
        gc.collect()
        size_mib = path.stat().st_size / 2**20
        before = peak_mib()
        out = io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stdout(out):
            status = cli_main(["validate", str(path)])
        elapsed = time.perf_counter() - start
        after = peak_mib()
    print(out.getvalue().strip().replace(str(path), "patients.csv"))
    print(f"rows {args.rows:,}, file {size_mib:.0f} MiB, exit status {status}")
    print(f"validation: {elapsed:.1f} s; peak RSS {before:.0f} MiB before, {after:.0f} MiB after")
    return 0 if status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
