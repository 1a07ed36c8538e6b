"""Locate the models, scenarios and calibration data bundled with pvsd.

In a wheel they are installed as package data under ``pvsd/_data``; in a source
checkout (editable install) they are the repository's top-level ``models/`` and
``calibration/`` folders.
"""

from __future__ import annotations

from pathlib import Path

from pvsd.errors import ModelLoadError

__all__ = ["REFERENCE_MODEL", "bundled_model_path", "bundled_models", "data_dir"]

#: The default of `pvsd report` and `pvsd explore`: v2, the model fitted to the EGDI panel
#: (v1, `public_value_chain`, stays bundled because shipped results refer to it).
REFERENCE_MODEL = "public_value_chain_v2"
_MODEL_SUFFIXES = (".mdl", ".xmile", ".stmx", ".xml")


def data_dir(kind: str) -> Path:
    """Return the folder of bundled ``"models"`` or ``"calibration"`` files."""
    here = Path(__file__).resolve().parent
    for cand in (here / "_data" / kind, here.parent / kind):
        if cand.is_dir():
            return cand
    raise ModelLoadError(
        f"pvsd's bundled {kind!r} folder was not found next to {here}; "
        "reinstall pvsd (pip install --force-reinstall pvsd)."
    )


def bundled_models() -> dict[str, Path]:
    """Bundled model files by name (file stem)."""
    return {
        p.stem: p
        for p in sorted(data_dir("models").iterdir())
        if p.suffix.lower() in _MODEL_SUFFIXES
    }


def bundled_model_path(name: str) -> Path | None:
    """Path of the bundled model called ``name`` (with or without suffix), else None."""
    models = bundled_models()
    stem = Path(name).stem if Path(name).suffix.lower() in _MODEL_SUFFIXES else name
    return models.get(stem)


def bundled_scenarios(model_name: str = REFERENCE_MODEL) -> Path | None:
    """The bundled scenario file for a bundled model, if any."""
    folder = data_dir("models") / "scenarios"
    for cand in (folder / f"{model_name}.toml", folder / "reference.toml"):
        if cand.is_file():
            return cand
    return None
