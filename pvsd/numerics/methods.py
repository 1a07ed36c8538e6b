"""Integration methods (one vocabulary for every entry point)."""

from __future__ import annotations

from typing import Any

from pvsd.engine.numpy_backend import METHODS, check_method
from pvsd.errors import ParameterError

__all__ = ["METHODS", "resolve_method"]


def resolve_method(method: Any, where: str = "method") -> str:
    """``"euler"`` or ``"rk4"`` (also accepts Vensim's "RK4 Fixed"); ParameterError otherwise.

    Parameters
    ----------
    method
        The name given by the user (case and separators ignored); None means Euler.
    where
        Where it was given (for the message: ``"method"``, ``"--method"``, a spec key).
    """
    if method is None:
        return "euler"
    if not isinstance(method, str):
        raise ParameterError(f"{where} must be a string ('euler' or 'rk4'), got {type(method).__name__}.")
    try:
        return check_method(method)
    except ValueError:
        raise ParameterError(
            f"{where} = {method!r} is not an integration method pvsd knows: use 'euler' "
            "(Vensim's and PySD's default) or 'rk4' (Vensim's 'RK4 Fixed', fourth-order "
            "Runge-Kutta with a fixed step)."
        ) from None
