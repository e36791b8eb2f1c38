"""Default thread counts of a benchmark run: one thread and every core this process may use."""
from __future__ import annotations

import os
from typing import List


def default_threads() -> List[int]:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return [1] if cores == 1 else [1, cores]
