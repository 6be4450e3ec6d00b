"""Shared test fixtures. Every seed in the suite comes from SEED."""

from __future__ import annotations

import os

# Keep BLAS single-threaded: sampling already uses both cores through chains.
os.environ.setdefault("OMP_NUM_THREADS", "1")

SEED = 20230105
