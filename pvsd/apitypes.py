"""Type checks of the Python API's arguments, so a wrong type is a PvsdError naming it.

Python would otherwise report ``AttributeError: 'str' object has no attribute
'items'`` from deep inside pvsd; these say which argument, what it got and what
it takes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from pvsd.errors import ArgumentTypeError

__all__ = ["check_model_arg", "check_outputs_arg", "check_params_arg", "check_scenario_arg",
           "check_spec_arg"]


def _got(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


def check_model_arg(model: Any, what: str = "model") -> None:
    """A model is a path (str or os.PathLike) or a bundled model's name."""
    if isinstance(model, (str, os.PathLike)):
        return
    raise ArgumentTypeError(
        f"{what} must be the path of a model file (str or pathlib.Path) or a bundled model's "
        f"name such as 'public_value_chain', not {_got(model)}."
    )


def check_outputs_arg(outputs: Any) -> None:
    """Outputs are None, one name, or a sequence of names."""
    if outputs is None or isinstance(outputs, str):
        return
    if isinstance(outputs, Sequence) and all(isinstance(o, str) for o in outputs):
        return
    raise ArgumentTypeError(
        f"outputs must be a variable name or a list of names, e.g. outputs=['Public Trust'], "
        f"not {_got(outputs)}."
    )


def check_params_arg(params: Any) -> None:
    """Parameters are a mapping name -> value."""
    if params is None or isinstance(params, Mapping):
        return
    raise ArgumentTypeError(
        f"params must be a mapping of variable name to value, e.g. params={{'Goal': 50}}, "
        f"not {_got(params)}."
    )


def check_scenario_arg(scenario: Any) -> None:
    """A scenario is a :class:`pvsd.Scenario` (from :func:`pvsd.load_scenarios`)."""
    if scenario is None:
        return
    from pvsd.scenarios import Scenario

    if isinstance(scenario, Scenario):
        return
    raise ArgumentTypeError(
        f"scenario must be a pvsd.Scenario, e.g. pvsd.load_scenarios('file.toml', model)['name'], "
        f"not {_got(scenario)}."
    )


def check_spec_arg(spec: Any, what: str, kinds: tuple[type, ...]) -> None:
    """A spec is a path to a TOML file or one of ``kinds``."""
    if isinstance(spec, (str, os.PathLike, *kinds)):
        return
    names = ", ".join(k.__name__ for k in kinds)
    raise ArgumentTypeError(
        f"{what} spec must be the path of a TOML spec file (str or pathlib.Path)"
        f"{' or a ' + names if names else ''}, not {_got(spec)}."
    )
