"""Writing a tuner's measured values into its backend's namespace of the tuning store, and saying where (every tuner ends here)."""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

Item = Tuple[str, str, Any, Optional[dict]]  # (op, key, value, measured details)


def save(backend: str, device, items: List[Item], what: str, dry_run: bool) -> int:
    """Put the items under `device` (a hpc_kernels._tuning.Device) unless a dry run; print what went where."""
    from ... import _tuning

    if dry_run:
        print(f"{len(items)} {what} measured (dry run: tuning store not written)")
        return 0
    path = _tuning.store().put_many(backend, device, items)
    print(f"{len(items)} {what} written to {path} (backend {backend}, device {device.name})")
    return 0
