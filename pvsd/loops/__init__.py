"""Feedback-loop analysis: every loop of a model, its polarity, and which loops dominate when.

The entry point is :func:`loops`::

    import pvsd
    m = pvsd.load("public_value_chain")
    res = pvsd.loops(m)               # or pvsd.loops(m, scenario=...)
    res.loops                         # id, polarity R/B, variables, length, mean relative score ...
    res.scores                        # relative loop scores over time, one column per loop id
    res.dominance()                   # periods and the loops that dominate them
    res.plot("Public Trust")          # scores above a variable's trajectory
    res.cld()                         # causal-loop diagram of the dominant loops

Loops named by the modeller (``R1 Trust-capability engine``) come from
``<model>_loops.toml`` next to the model file (see :mod:`pvsd.loops.names`)
and appear beside the ids in every table and figure.

How it works
------------
1. The causal graph (:mod:`pvsd.loops.graph`) comes from pvsd's IR of the
   model: variables are nodes, "appears in the equation of" are edges, flows
   point to their stocks.
2. Loops are enumerated with Johnson's algorithm (``networkx.simple_cycles``);
   when a model has more than ``max_loops`` of them, the strongest-path search
   of Eberlein & Schoenberg (2020, "Finding the loops that matter") finds the
   important ones instead, and the result says so.
3. The model is run once, saved at every TIME STEP, and the Loops that Matter
   scores of Schoenberg, Davidsen & Eberlein (2020) are computed from that run
   (:mod:`pvsd.loops.scores`): link scores, loop scores (their product) and
   relative loop scores. Polarities come from the run itself.

Note that ``pvsd.loops`` (the attribute of the ``pvsd`` package) is the
function; import the classes from this module, e.g.
``from pvsd.loops import LoopResult``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pvsd.loops.core import DEFAULT_MAX_LOOPS, causal_graph
from pvsd.loops.names import LoopNamesSource, NamedLoop, load_loop_names
from pvsd.loops.result import LoopResult

if TYPE_CHECKING:
    from pvsd.model import Model
    from pvsd.scenarios import Scenario

__all__ = ["DEFAULT_MAX_LOOPS", "LoopResult", "NamedLoop", "causal_graph", "load_loop_names", "loops"]


def loops(
    model: Model,
    scenario: Scenario | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    max_length: int | None = None,
    max_loops: int | None = DEFAULT_MAX_LOOPS,
    method: str = "auto",
    initial_time: float | None = None,
    final_time: float | None = None,
    time_step: float | None = None,
    names: LoopNamesSource = None,
) -> LoopResult:
    """Find a model's feedback loops and measure which ones drive its behaviour over a run.

    Parameters
    ----------
    model
        A loaded model (:func:`pvsd.load`) of a Vensim or XMILE file.
    scenario
        A :class:`~pvsd.scenarios.Scenario` to analyse (default: the model's own settings).
    params
        Extra parameter overrides, as for :meth:`pvsd.Model.run` (applied on top of the scenario).
    max_length
        Longest loop searched, in variables (default: no limit).
    max_loops
        With ``method="auto"``, more loops than this switch from full
        enumeration to the strongest-path search (default 2000; None: always enumerate).
    method
        ``"auto"``, ``"enumerate"`` (always list every loop) or
        ``"strongest_path"`` (Eberlein & Schoenberg's search).
    initial_time, final_time, time_step
        Time settings of the analysed run (default: the model's). Scores are
        computed at every time step; a smaller step gives finer dominance timing.
    names
        Names for the model's loops: a loop-names TOML file (see
        :mod:`pvsd.loops.names`), a mapping ``name -> variables in causal
        order``, or False for none. Default: ``<model>_loops.toml`` next to the
        model file, if there is one. Named loops appear in the ``name`` column
        of ``.loops`` and in every table and figure.

    Returns
    -------
    LoopResult
        ``.loops`` (id, polarity R/B, variables, length ...), ``.scores``
        (relative loop scores over time), ``.dominance()``, ``.plot()``,
        ``.cld()``. A model without feedback gives an empty table and a
        message saying so.

    Raises
    ------
    UnsupportedModelError
        The model's equations are not available (a translated ``.py`` file) or
        use constructs pvsd cannot read (subscripts, macros ...).
    ParameterError, TimeRangeError, UnknownVariableError
        Bad arguments, as for :meth:`pvsd.Model.run`.
    SpecError
        A named loop is not a feedback loop of the model (unknown variable,
        missing link) or the loop-names file is malformed.
    """
    from pvsd.loops.core import analyse
    from pvsd.model import Model as _Model

    if not isinstance(model, _Model):  # a path or a bundled name works as in pvsd.load
        from pvsd.model import load

        model = load(model)
    return analyse(model, scenario, params, max_length=max_length, max_loops=max_loops, method=method,
                   names=names, initial_time=initial_time, final_time=final_time, time_step=time_step)


class _CallableModule(type(sys.modules[__name__])):
    """``pvsd.loops`` is both this package and the function: importing the package
    (``from pvsd.loops import ...``) rebinds the attribute of ``pvsd`` to the module, so
    the module is callable and ``pvsd.loops(model)`` works either way."""

    def __call__(self, *args: Any, **kwargs: Any) -> LoopResult:
        return loops(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
