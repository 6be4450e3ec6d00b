"""Tasks that carry the endpoint families they use.

The families are a registry of the process that registered them (a script or a test may
register a family of its own). A worker of the engine is another process: every task that looks
a family up is sent with the run's families, and registers them where it runs before it starts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rechallenge.analysis.families import family_of, register_family
from rechallenge.analysis.settings.config import RunConfig
from rechallenge.analysis.settings.families import EndpointFamily


def run_families(config: RunConfig) -> tuple[EndpointFamily, ...]:
    """The families of the run's endpoints, as registered in this process."""
    return tuple(family_of(endpoint) for endpoint in config.run_endpoints)


def with_families(families: Sequence[EndpointFamily], fn: Callable[..., Any], *args: Any,
                  **kwargs: Any) -> Any:
    """Register ``families`` in this process, then return ``fn(*args, **kwargs)``."""
    for family in families:
        register_family(family)
    return fn(*args, **kwargs)
