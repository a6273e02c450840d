"""The arq worker: every domain's jobs and crons, gathered here.

Each domain lists its jobs in `<domain>/jobs.py` as `FUNCTIONS` (arq functions) and `CRONS` (arq cron jobs);
add the module to JOB_MODULES below. Jobs may run more than once: each must be safe to.
"""

from __future__ import annotations

import importlib
from typing import Any

# One line per domain that has jobs.
JOB_MODULES: list[str] = [
    "marketplace.core.jobs",
    "tenders.jobs",
    "marketplace.payments.jobs",
]


def gather() -> tuple[list[Any], list[Any]]:
    functions: list[Any] = []
    crons: list[Any] = []
    for name in JOB_MODULES:
        module = importlib.import_module(name)
        functions.extend(getattr(module, "FUNCTIONS", []))
        crons.extend(getattr(module, "CRONS", []))
    return functions, crons
