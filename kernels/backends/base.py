"""What every backend declares: name, ops, dtypes, accepted array types, availability and its pip extra."""
from __future__ import annotations

from typing import Any, FrozenSet, Optional

import numpy as np


class Backend:
    name: str = ""
    extra: Optional[str] = None  # pip extra that installs what the backend needs (None: the core package)
    ops: FrozenSet[str] = frozenset()
    dtypes: FrozenSet[str] = frozenset({"float32", "float64"})
    array_types: tuple = (np.ndarray,)
    available: bool = True
    reason: str = "available"

    def accepts(self, x: Any) -> bool:
        return isinstance(x, self.array_types)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "available": self.available,
            "reason": self.reason,
            "ops": sorted(self.ops),
            "dtypes": sorted(self.dtypes),
            "array_types": [f"{t.__module__}.{t.__qualname__}" for t in self.array_types],
            "extra": self.extra,
        }
