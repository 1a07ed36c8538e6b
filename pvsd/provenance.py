"""Provenance records attached to every pvsd output."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
import sys
from collections.abc import Mapping
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["as_text", "file_sha256", "markup_comment", "provenance", "to_json_safe", "versions"]


def file_sha256(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    """Versions of pvsd, PySD and the Python interpreter."""
    out = {"python": platform.python_version()}
    for dist in ("pvsd", "pysd", "numpy", "pandas", "xarray"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def to_json_safe(value: Any) -> Any:
    """Convert numpy scalars, arrays, paths and pandas series to JSON-friendly values."""
    if isinstance(value, Mapping):
        return {str(k): to_json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return to_json_safe(value.to_dict())
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def provenance(
    model_path: str | Path | None = None,
    model_sha256: str | None = None,
    params: Mapping[str, Any] | None = None,
    scenario: Any = None,
    seed: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Build the provenance record of one output.

    Parameters
    ----------
    model_path
        Model file the output comes from.
    model_sha256
        Its SHA-256; computed from ``model_path`` when omitted.
    params
        Parameter overrides used.
    scenario
        Scenario name(s) or definition.
    seed
        Random seed, if any draw was made.
    **extra
        Further JSON-serialisable entries (method, sample size, ...).

    Returns
    -------
    dict
        Keys: ``model_file``, ``model_sha256``, ``parameters``, ``scenario``, ``seed``,
        ``pvsd_version``, ``pysd_version``, ``python_version``, ``created``,
        ``command`` and any extras.
    """
    if model_sha256 is None and model_path is not None and Path(model_path).is_file():
        model_sha256 = file_sha256(model_path)
    v = versions()
    rec: dict[str, Any] = {
        "model_file": str(model_path) if model_path is not None else None,
        "model_sha256": model_sha256,
        "parameters": to_json_safe(dict(params or {})),
        "scenario": to_json_safe(scenario),
        "seed": seed,
        "pvsd_version": v["pvsd"],
        "pysd_version": v["pysd"],
        "python_version": v["python"],
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "",
    }
    rec.update(to_json_safe(extra))
    return rec


def as_attrs(record: Mapping[str, Any]) -> dict[str, str | int | float]:
    """Flatten a provenance record to netCDF-compatible attributes (nested values as JSON)."""
    out: dict[str, str | int | float] = {}
    for k, v in record.items():
        if v is None:
            out[k] = ""
        elif isinstance(v, (str, int, float)) and not isinstance(v, bool):
            out[k] = v
        else:
            out[k] = json.dumps(v, sort_keys=True)
    return out


def as_text(record: Mapping[str, Any]) -> str:
    """The record as the "Provenance" section that closes a plain-text report (``report.txt``)."""
    lines = ["Provenance", "----------"]
    for k, v in record.items():
        lines.append(f"{k}: {v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)}")
    return "\n".join(lines) + "\n"


def markup_comment(record: Mapping[str, Any]) -> str:
    """The record as one XML/HTML comment (``<!-- pvsd provenance: {...} -->``).

    ``--`` may not occur inside such a comment, so it is written as ``-\u002d``
    (JSON-escaped: ``json.loads`` of the text between the markers gives the record).
    """
    text = json.dumps(to_json_safe(dict(record)), sort_keys=True, default=str)
    return "<!-- pvsd provenance: " + text.replace("--", "-\\u002d") + " -->"

