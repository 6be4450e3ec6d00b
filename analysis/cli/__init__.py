"""The command line, ``rechallenge <command> ...``: a thin layer over the Python API.

One module per command (:mod:`validate`, :mod:`jobs` for analyze/report/update,
:mod:`reconstruct`, :mod:`design`), what they share in :mod:`common`, and the dispatch table and
entry point in :mod:`main`. The top layer of ``rechallenge.analysis``: nothing imports it.
"""

from rechallenge.analysis.cli.main import COMMANDS, build_parser, console_main, main

__all__ = ["COMMANDS", "build_parser", "console_main", "main"]
