"""The @software invocation descriptions shipped with the package: loading and schema validation."""
from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any, Dict, List, Optional

_PACKAGE = "hpc_kernels.workflow"


class DescriptionError(ValueError):
    """A description does not follow the schema; the message names the field and what is allowed."""


def names() -> List[str]:
    """Kernels that have a shipped description."""
    files = resources.files(_PACKAGE).joinpath("descriptions").iterdir()
    return sorted(f.name[:-5] for f in files if f.name.endswith(".json"))


def schema() -> Dict[str, Any]:
    """The JSON schema every description follows (kernels/workflow/schema.json)."""
    return json.loads(resources.files(_PACKAGE).joinpath("schema.json").read_text(encoding="utf-8"))


def _field(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def validate(desc: Any) -> Dict[str, Any]:
    """`desc` if it follows the schema, else DescriptionError naming the offending field (the
    deepest one where several alternatives fail)."""
    try:
        import jsonschema
    except ImportError:
        raise ImportError(
            "validating workflow descriptions needs jsonschema; install it with: pip install 'hpc-kernels[workflow]'"
        ) from None
    validator = jsonschema.Draft202012Validator(schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(desc))
    if error is not None:
        raise DescriptionError(f"invalid description: field {_field(error.absolute_path)!r}: {error.message}")
    return desc


def description(kernel: str, computing_units: Optional[int] = None) -> Dict[str, Any]:
    """The validated @software description of `kernel` ("gemm", "conv2d" or "onnx"), a fresh dict;
    `computing_units` replaces the shipped constraint (1)."""
    known = names()
    if kernel not in known:
        raise ValueError(f"no workflow description for {kernel!r}; available: {', '.join(known)}")
    text = resources.files(_PACKAGE).joinpath("descriptions").joinpath(f"{kernel}.json").read_text(encoding="utf-8")
    desc = json.loads(text)
    if computing_units is not None:
        desc = copy.deepcopy(desc)
        desc["constraints"]["computing_units"] = computing_units
    return validate(desc)
