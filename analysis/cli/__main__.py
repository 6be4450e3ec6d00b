"""``python -m rechallenge.analysis.cli``: the ``rechallenge`` script."""

from rechallenge.analysis.cli.main import console_main

console_main()
