"""The loop analysis itself: graph, loops, one run at every TIME STEP, scores."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import pandas as pd

from pvsd.engine.ir import references
from pvsd.errors import ParameterError, UnsupportedModelError
from pvsd.loops.graph import (
    CausalGraph,
    Loop,
    TooManyLoops,
    build_graph,
    enumerate_loops,
    strongest_path_loops,
)
from pvsd.loops.names import LoopNamesSource, load_loop_names, match_named_loops
from pvsd.loops.result import LoopResult
from pvsd.loops.scores import link_scores, loop_scores, raw_scores, relative_scores

if TYPE_CHECKING:
    from pvsd.engine.ir import ModelIR
    from pvsd.model import Model
    from pvsd.scenarios import Scenario

__all__ = ["DEFAULT_MAX_LOOPS", "analyse", "causal_graph", "model_ir"]

#: Above this many loops, the strongest-path search replaces full enumeration.
DEFAULT_MAX_LOOPS = 2000
#: Time steps searched by the strongest-path search (evenly spread over the run).
SEARCH_STEPS = 200


def model_ir(model: Model) -> ModelIR:
    """The IR of a loaded model, or a clear error when the model cannot be analysed."""
    from pvsd.engine import engine_for
    from pvsd.engine.support import describe

    eng = engine_for(model)
    if eng.ir is None:
        raise UnsupportedModelError(
            f"Loop analysis needs the model's equations, which pvsd reads from the original "
            f"Vensim/XMILE file; {model.path.name} gives none ({eng.reason}). Load the .mdl or "
            ".xmile file instead of a translated .py file."
        )
    if eng.ir.unsupported:
        raise UnsupportedModelError(
            f"Loop analysis of {model.path.name} is not possible: pvsd cannot read "
            f"{describe(eng.ir.unsupported)}."
        )
    return eng.ir


#: How loops of an arrayed model are analysed, said in the result and the loop report.
ELEMENT_LEVEL = ("loops over element-level variables: each arrayed variable is one variable per "
                 "element, named Var[element] (e.g. Stock[A]); no aggregation over dimensions")


def analysis_ir(model: Model) -> tuple[ModelIR, ModelIR]:
    """The model's IR and the IR the loop analysis reads: per element for an arrayed model."""
    from pvsd.engine.scalarise import scalarise

    ir = model_ir(model)
    if not ir.subscripts:
        return ir, ir
    try:
        sir = scalarise(ir)
    except Exception as exc:  # a construct the per-element expansion does not know
        raise UnsupportedModelError(
            f"Loop analysis of {model.path.name} works on element-level variables, and pvsd cannot "
            f"expand this arrayed model into them ({type(exc).__name__}: {exc})."
        ) from exc
    if sir.unsupported:
        from pvsd.engine.support import describe

        raise UnsupportedModelError(
            f"Loop analysis of {model.path.name} works on element-level variables, and pvsd cannot "
            f"expand {describe(sir.unsupported)} element by element."
        )
    return ir, sir


def causal_graph(model: Model) -> nx.DiGraph:
    """The causal graph of a model as a ``networkx.DiGraph`` on model-file names.

    Nodes are the variables that change during a run (for an arrayed model, one
    per element, named ``Var[element]`` (attribute ``kind``:
    stock, flow, aux, or smooth/delay ... for a stateful builtin's owner); an
    edge ``x -> z`` means x appears in the equation of z (for a stock: in its
    net flow).
    """
    return build_graph(analysis_ir(model)[1]).to_networkx()


def _partitions(graph: CausalGraph, loops: list[Loop]) -> list[int]:
    """Cycle partition of each loop: the strongly connected component it lies in."""
    comp: dict[str, int] = {}
    comps = sorted((sorted(c) for c in nx.strongly_connected_components(graph.graph) if len(c) > 1
                    or any(graph.graph.has_edge(n, n) for n in c)), key=lambda c: c[0])
    for i, c in enumerate(comps):
        for n in c:
            comp[n] = i + 1
    return [comp.get(lp.keys[0], 0) for lp in loops]


def _element_of(arr: ModelIR, sir: ModelIR, py: str) -> tuple[str, int] | None:
    """``(arrayed py name, row-major index)`` of an element name of the scalarised IR."""
    if arr is sir or "__e" not in py or py in arr.variables or py in arr.states:
        return None
    base, _, k = py.rpartition("__e")
    if not k.isdigit() or (base not in arr.variables and base not in arr.states):
        return None
    return base, int(k)


def _values(model: Model, arr: ModelIR, ir: ModelIR, names: set[str], params: Mapping[str, Any] | None,
            scenario: Scenario | None, time_kw: Mapping[str, Any]) -> tuple[Any, dict[str, np.ndarray], float]:
    """One run saved at every TIME STEP; trajectories of ``names`` (Python names of ``ir``).

    ``arr`` is the model's own IR, ``ir`` the analysed one (per element for an arrayed model).
    """
    t0, t1, dt, _ = model.check_times(time_kw.get("initial_time"), time_kw.get("final_time"),
                                      time_kw.get("time_step"))
    py2name = {py: name for name, py in model._py.items()}
    col2py: dict[str, str] = {name: py for name, py in model._py.items()}
    if arr is not ir:  # element columns Var[e1,e2] by the names scalarise gave the elements
        col2py.update({v.name: py for py, v in ir.variables.items() if _element_of(arr, ir, py)})
    wanted: list[str] = []
    for n in sorted(names):
        el = _element_of(arr, ir, n)
        base = el[0] if el else n
        if base in py2name:
            wanted.append(py2name[base])
    outputs = list(dict.fromkeys(model.default_outputs() + wanted))
    run = model.run(params, scenario, initial_time=t0, final_time=t1, time_step=dt, saveper=dt,
                    outputs=outputs)
    values = {col2py[c]: run.data[c].to_numpy(dtype=float) for c in run.data.columns if c in col2py}
    states = sorted(n for n in names if n in ir.states)
    # variables of inlined macros (pvsd.engine.macros) are the engine's, not PySD's
    inner = sorted(n for n in names if n not in values and n in ir.variables
                   and ir.variables[n].origin)
    if states or inner:
        from pvsd.engine import engine_for, to_engine_params

        base_states = sorted({(_element_of(arr, ir, s) or (s, 0))[0] for s in states})
        eng = engine_for(model)
        if eng.simulator is None:
            what = [arr.variables[arr.states[s].owner].name for s in base_states]
            what += [ir.variables[n].name for n in inner]
            raise UnsupportedModelError(
                f"Loop analysis of {model.path.name} needs the internal state of "
                f"{', '.join(what[:5])}, which "
                f"only pvsd's vectorised engine exposes, and that engine cannot run this model "
                f"({eng.reason})."
            )
        merged = model.check_params(params, scenario)
        init_clock = None if t0 == model.initial_time else model.initial_time
        _grid, sv = eng.simulator.run(to_engine_params(model, merged), outputs=base_states + inner,
                                      n=1, initial_time=t0, final_time=t1, time_step=dt,
                                      save_times=list(run.times), init_clock=init_clock)
        for n in inner:
            values[n] = np.asarray(sv[n], dtype=float).reshape(len(run.times), -1)[:, 0]
        for s in states:
            el = _element_of(arr, ir, s)
            if el is None:
                values[s] = np.asarray(sv[s], dtype=float).reshape(len(run.times), -1)[:, 0]
            else:  # (time, member, *shape) -> one element
                got = np.asarray(sv[el[0]], dtype=float).reshape(len(run.times), 1, -1)
                values[s] = got[:, 0, el[1]]
    lost = sorted(n for n in names if n not in values and _element_of(arr, ir, n))
    if lost:
        raise UnsupportedModelError(
            f"Loop analysis of {model.path.name} could not match the run's columns to the elements "
            f"{', '.join(ir.variables[n].name if n in ir.variables else n for n in lost[:5])}"
            + (" ..." if len(lost) > 5 else "") + "; it refuses rather than score loops without them."
        )
    return run, values, dt


def analyse(
    model: Model,
    scenario: Scenario | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    max_length: int | None = None,
    max_loops: int | None = DEFAULT_MAX_LOOPS,
    method: str = "auto",
    names: LoopNamesSource = None,
    **time_kw: Any,
) -> LoopResult:
    """Implementation of :func:`pvsd.loops.loops` (see there)."""
    if method not in ("auto", "enumerate", "strongest_path"):
        raise ParameterError(f"method must be 'auto', 'enumerate' or 'strongest_path', got {method!r}.")
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int)
                                   or max_length < 1):
        raise ParameterError(f"max_length must be a positive whole number or None, got {max_length!r}.")
    if max_loops is not None and (isinstance(max_loops, bool) or not isinstance(max_loops, int)
                                  or max_loops < 1):
        raise ParameterError(f"max_loops must be a positive whole number or None, got {max_loops!r}.")
    bad = set(time_kw) - {"initial_time", "final_time", "time_step"}
    if bad:
        raise TypeError(f"unexpected keyword argument(s) {', '.join(sorted(bad))}")
    named, names_from = load_loop_names(names, model)
    arr, ir = analysis_ir(model)
    graph = build_graph(ir)
    notes = list(graph.notes)
    if arr is not ir:
        notes.insert(0, f"Arrayed model: {ELEMENT_LEVEL}.")

    loops: list[Loop] = []
    used = "enumeration"
    if method in ("auto", "enumerate"):
        try:
            loops = enumerate_loops(graph, max_length, None if method == "enumerate" else max_loops)
        except TooManyLoops:
            used = "strongest_path"
    else:
        used = "strongest_path"
    if used == "enumeration":
        limit = f" of up to {max_length} variables" if max_length else ""
        notes.insert(0, f"Every feedback loop{limit} was found by full enumeration (Johnson's algorithm).")

    needed: set[str] = set()
    for node in graph.nodes.values():
        if node.equation is not None:
            needed |= {r for r in references(node.equation) if r != "time"}
    needed = {n for n in needed if n in ir.states or (n in ir.variables and ir.variables[n].kind != "lookup")}
    run, values, dt = _values(model, arr, ir, needed, params, scenario, time_kw)
    times = run.times
    n = len(times)

    if used == "strongest_path":
        all_links = link_scores(ir, graph, values, times, dt)
        steps = np.unique(np.linspace(1, n - 1, min(SEARCH_STEPS, max(n - 1, 1))).round().astype(int))
        absd = {k: np.abs(v) for k, v in all_links.scores.items()}
        loops = strongest_path_loops(graph, absd, steps, max_length)
        why = (f"The model has more than {max_loops} feedback loops, too many to list them all: the "
               if method == "auto" else "As asked, the ")
        notes.insert(0, why + f"{len(loops)} loops shown were found by the strongest-path search of "
                        f"Eberlein & Schoenberg (2020) at {len(steps)} times of the run. They are the "
                        "loops that matter most at some time; weaker loops may be missing, and relative "
                        "scores are shares of the loops found.")
        links = all_links
    else:
        wanted = [lk for lp in loops for lk in lp.links]
        links = link_scores(ir, graph, values, times, dt, wanted)

    partition = _partitions(graph, loops)
    logabs, sign = loop_scores(loops, links, n)
    rel = relative_scores(logabs, sign, partition)
    raw = raw_scores(logabs, sign)
    rel[0, :] = np.nan
    raw[0, :] = np.nan

    width = len(str(len(loops)))
    ids = [f"L{i + 1:0{width}d}" for i in range(len(loops))]
    loop_names, missing = match_named_loops(named, graph, [lp.keys for lp in loops], names_from,
                                            model.path.name)
    if named:
        notes.append(f"Loop names from {Path(names_from).name if names_from.endswith('.toml') else names_from}: "
                     f"{len(named) - len(missing)} of {len(named)} named loops found.")
    if missing:
        notes.append("Named loops not among the loops found (the search settings leave them out): "
                     + "; ".join(missing) + ".")
    meanings = {lp.name: lp.meaning for lp in named}
    rows = []
    for j, (lid, lp) in enumerate(zip(ids, loops, strict=True)):
        s = sign[1:, j]
        active = s != 0
        pos = float(np.abs(rel[1:, j])[s > 0].sum())
        neg = float(np.abs(rel[1:, j])[s < 0].sum())
        changes = pos > 0 and neg > 0
        if active.any():
            polarity = "R" if pos >= neg else "B"
        else:  # never active in this run: product of the link polarities seen
            ps = [links.polarity.get(lk, 0) for lk in lp.links]
            polarity = "U" if any(p in (0, 2) for p in ps) else ("R" if np.prod(ps) > 0 else "B")
        r = rel[1:, j]
        stocks = tuple(graph.name(k) for k in lp.keys if graph.nodes[k].accumulates)
        rows.append({
            "id": lid,
            "name": loop_names[j],
            "meaning": meanings.get(loop_names[j], ""),
            "polarity": polarity,
            "length": lp.length,
            "variables": lp.names,
            "stocks": stocks,
            "partition": partition[j],
            "mean_relative_score": float(np.mean(r)) if r.size else np.nan,
            "mean_abs_relative_score": float(np.mean(np.abs(r))) if r.size else np.nan,
            "max_abs_relative_score": float(np.max(np.abs(r))) if r.size else np.nan,
            "polarity_changes": bool(changes),
            "active_share": float(np.mean(active)) if active.size else 0.0,
        })
    columns = ["id", "name", "meaning", "polarity", "length", "variables", "stocks", "partition",
               "mean_relative_score", "mean_abs_relative_score", "max_abs_relative_score", "polarity_changes",
               "active_share"]
    table = pd.DataFrame(rows, columns=columns)
    index = pd.Index(times, name="time")
    scores = pd.DataFrame(rel, index=index, columns=ids)
    raw_df = pd.DataFrame(raw, index=index, columns=ids)
    link_rows = {f"{graph.name(a)} -> {graph.name(b)}": v for (a, b), v in links.scores.items()}
    link_df = pd.DataFrame(link_rows, index=index)
    link_df.iloc[0, :] = np.nan

    if not loops:
        message = (f"{model.path.name} has no feedback loops: no variable influences itself through a "
                   "chain of equations and stocks, so there is no loop dominance to analyse"
                   + (f" (loops of up to {max_length} variables were searched)." if max_length else "."))
    else:
        n_r = int((table["polarity"] == "R").sum())
        n_b = int((table["polarity"] == "B").sum())
        message = (f"{len(loops)} feedback loops ({n_r} reinforcing, {n_b} balancing"
                   + (f", {len(loops) - n_r - n_b} of undetermined polarity" if n_r + n_b < len(loops) else "")
                   + "), found by "
                   + ("full enumeration." if used == "enumeration" else "the strongest-path search.")
                   + (f" Arrayed model: {ELEMENT_LEVEL}." if arr is not ir else ""))
        flipped = table.loc[table["polarity_changes"], "id"].tolist()
        if flipped:
            notes.append("Loops whose polarity changes during the run (their polarity is the one that "
                         "carries most of their score): " + ", ".join(flipped) + ".")
        if (table["polarity"] == "U").any():
            notes.append("Loops marked U never act in this run (a link of theirs never changes), and "
                         "the sign of one of their links could not be observed.")
    notes.append("Link scores follow Schoenberg, Davidsen & Eberlein (2020) with the flow-to-stock "
                 "correction of Schoenberg, Hayward & Eberlein (2023); scores are computed at every "
                 f"time step (dt = {dt:g}).")
    return LoopResult(
        model=model.name,
        model_file=model.path.name,
        loops=table,
        scores=scores,
        loop_scores=raw_df,
        link_scores=link_df,
        run=run,
        method=used,
        message=message,
        notes=tuple(notes),
        graph=graph.to_networkx(),
        link_polarity={(graph.name(a), graph.name(b)): p for (a, b), p in links.polarity.items()},
        scenario=scenario.name if scenario is not None else None,
        time_step=dt,
        provenance=dict(run.provenance),
    )
