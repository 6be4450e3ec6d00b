"""No library notice on the terminal: ArviZ's once-a-day ``FutureWarning`` about its coming
refactor is ignored at the command line's entry point, and only that warning.

Each check imports ArviZ in a new process whose ArviZ cache folder is new, so the notice is due
(ArviZ raises it at most once a day per cache folder).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Each test starts a new Python (seconds each): not in the fast tier.
pytestmark = pytest.mark.integration

NOTICE = "ArviZ is undergoing a major refactor"


def _import_arviz(cache: Path, before: str) -> str:
    """Standard error of a new Python that runs ``before`` and then imports ArviZ."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONWARNINGS": "default"}
    done = subprocess.run([sys.executable, "-c", f"{before}\nimport arviz"], env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stderr

def test_arviz_notice_is_due_in_a_new_cache(tmp_path: Path) -> None:
    # The control: without the filter the notice prints, so the next test can fail.
    assert NOTICE in _import_arviz(tmp_path, "pass")

def test_entry_point_ignores_the_arviz_notice(tmp_path: Path) -> None:
    before = ("from rechallenge.analysis.cli.environment import prepare_environment\n"
              "prepare_environment()")
    assert NOTICE not in _import_arviz(tmp_path, before)

def test_other_future_warnings_still_print(tmp_path: Path) -> None:
    before = ("from rechallenge.analysis.cli.environment import quiet_library_notices\n"
              "quiet_library_notices()\n"
              "import warnings\n"
              "warnings.warn('another notice', FutureWarning)")
    assert "another notice" in _import_arviz(tmp_path, before)


def test_a_local_cluster_starts_quietly_when_the_dashboard_port_is_taken() -> None:
    import socket
    import warnings

    from rechallenge.analysis.run.engine import EngineSettings, open_client

    taken = socket.socket()
    try:
        try:
            taken.bind(("127.0.0.1", 8787))
            taken.listen()
        except OSError:
            pass  # another cluster holds it already: the same situation
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with open_client(EngineSettings(workers=1)):
                pass
    finally:
        taken.close()
    assert not [w for w in caught if "already in use" in str(w.message)]
