"""Exceptions raised by pvsd.

Every error a user can cause is a :class:`PvsdError`; the CLI turns these into
a one-paragraph message and exit code 2. Anything else is a bug in pvsd.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ArgumentTypeError",
    "DataError",
    "EquationOverrideWarning",
    "IneffectiveSettingWarning",
    "ModelLoadError",
    "OutputExistsError",
    "OutputPathError",
    "ParameterError",
    "PvsdError",
    "ScenarioError",
    "SimulationError",
    "SpecError",
    "TimeRangeError",
    "UnknownVariableError",
    "UnsupportedModelError",
]


class PvsdError(Exception):
    """Base class of every error a user of pvsd can cause by bad input."""


class ModelLoadError(PvsdError):
    """A model file is missing, unreadable, malformed or cannot be translated."""


class UnknownVariableError(PvsdError, KeyError):
    """A name does not match any variable of the model.

    Parameters
    ----------
    name
        The name that was asked for.
    suggestions
        The closest variable names of the model, best first.
    where
        Where the name came from (``"params"``, ``"outputs"``, a file and line ...).
    model
        The model's file name, for the message.
    hint
        How to fix it (default: the suggestions); e.g. the elements of a dimension.
    """

    def __init__(
        self,
        name: str,
        suggestions: Sequence[str] = (),
        where: str = "",
        model: str = "",
        hint: str | None = None,
    ) -> None:
        self.name = name
        self.suggestions = list(suggestions)
        self.where = where
        self.model = model
        loc = f" in {where}" if where else ""
        of = f" of model {model}" if model else ""
        hint = hint or (
            "Did you mean " + ", ".join(repr(s) for s in self.suggestions) + "?"
            if self.suggestions
            else "List the variables with `pvsd info MODEL` or `Model.variables`."
        )
        super().__init__(f"Unknown variable {name!r}{loc}: it is not a variable{of}. {hint}")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ParameterError(PvsdError, ValueError):
    """A parameter value has the wrong type, is not finite, or is out of its bounds."""


class TimeRangeError(PvsdError, ValueError):
    """Start time, final time, time step or save times are inconsistent."""


class ScenarioError(PvsdError, ValueError):
    """A scenario file or scenario definition is malformed."""


class SpecError(PvsdError, ValueError):
    """A calibration or sensitivity specification is malformed."""


class DataError(PvsdError, ValueError):
    """Indicator data are malformed (NaN values, duplicate years, missing columns ...)."""


class OutputExistsError(PvsdError, FileExistsError):
    """An output file or folder exists already and overwriting was not asked for."""


class OutputPathError(PvsdError, OSError):
    """An output cannot be written where asked (read-only folder, a file on the way ...)."""


class UnsupportedModelError(PvsdError):
    """A model uses a construct that a pvsd capability does not support."""


class SimulationError(PvsdError, RuntimeError):
    """The simulation itself failed (for example PySD raised while integrating)."""


class EquationOverrideWarning(UserWarning):
    """A setting replaces the equation of an auxiliary or flow for the whole run."""


class IneffectiveSettingWarning(UserWarning):
    """A lever (step, ramp, table) changes nothing inside the simulated period."""


class ArgumentTypeError(PvsdError, TypeError):
    """A Python API argument has the wrong type (a str where a mapping is needed ...)."""
