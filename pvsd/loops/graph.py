"""The causal graph of a model and the enumeration of its feedback loops.

Nodes are the variables whose value changes during a run (stocks, flows and
auxiliaries); an edge ``x -> z`` means "x appears in the equation of z". A
stock's equation is its net flow, so flows (and anything else written into the
net flow) point to the stock. Everything comes from pvsd's IR of the model
(:mod:`pvsd.engine.ir`); model files are never parsed here.

Stateful builtins (SMOOTH, DELAY ...)
-------------------------------------
pvsd *collapses* the internal state of a stateful builtin onto the variable that
owns it when the owner's equation is the builtin itself (``Trust Reference =
SMOOTH(Public Trust, Trust Reference Time)``): the owner becomes a stock-like
node whose inputs are the builtin's arguments, and the builtin's internal
balancing loop (the state chasing its input) is not reported, as in Stella's
Loops that Matter. When the builtin is only part of a larger equation
(``x = 2 * SMOOTH(y, T)``) the state is *kept* as its own node, named
``"SMOOTH in x"``. The link scores into such nodes use the first-order rate of
change ``(input - value) * order / time`` (exact for SMOOTH/SMOOTHI and DELAY1,
a first-order approximation for SMOOTH3/DELAY3/DELAY N). TREND, FORECAST,
SAMPLE IF TRUE and DELAY FIXED keep their links in the graph, but those links
are not scored (score 0, with a note in the result).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import networkx as nx

from pvsd.engine.ir import BinOp, Expr, ModelIR, Num, Ref, references
from pvsd.engine.support import static_names

__all__ = [
    "CausalGraph",
    "Loop",
    "Node",
    "build_graph",
    "canonical_loops",
    "enumerate_loops",
    "strongest_path_loops",
]

#: Stateful kinds whose links get a (first-order) score.
SCORED_STATEFUL = ("smooth", "delay", "delayn")
#: Stateful kinds that are exact under the first-order rate when their order is 1.
_STATE_LABEL = {
    "smooth": "SMOOTH",
    "delay": "DELAY",
    "delayn": "DELAY N",
    "delay_fixed": "DELAY FIXED",
    "trend": "TREND",
    "forecast": "FORECAST",
    "sample_if_true": "SAMPLE IF TRUE",
}


@dataclass(frozen=True)
class Node:
    """One node of the causal graph.

    Attributes
    ----------
    key
        IR name: a variable's Python name, or an internal state's name.
    name
        Name shown to users: the model-file name (``"SMOOTH in x"`` for a kept state).
    kind
        ``stock``, ``flow``, ``aux``, or a stateful kind (``smooth``, ``delay`` ...)
        for a variable that owns a collapsed state or for a kept state.
    equation
        The equation link scores are computed on: an auxiliary's or flow's own
        equation, a stock's net flow, a stateful node's first-order rate of
        change; None when its links are not scored.
    inputs
        Keys of the nodes that appear in :attr:`equation` (its causes).
    accumulates
        The node integrates (stock or stateful builtin): its link scores compare
        changes in its rate of change.
    note
        Approximation or limitation of this node's link scores ("" if exact).
    """

    key: str
    name: str
    kind: str
    equation: Expr | None
    inputs: tuple[str, ...]
    accumulates: bool = False
    note: str = ""


@dataclass(frozen=True)
class Loop:
    """One feedback loop: its nodes in causal order (each causes the next, the last the first)."""

    keys: tuple[str, ...]
    names: tuple[str, ...]

    @property
    def length(self) -> int:
        """Number of variables (and links) in the loop."""
        return len(self.keys)

    @property
    def links(self) -> list[tuple[str, str]]:
        """The loop's links as ``(cause, effect)`` keys."""
        k = self.keys
        return [(k[i], k[(i + 1) % len(k)]) for i in range(len(k))]


@dataclass(frozen=True)
class CausalGraph:
    """The causal graph of one model.

    Attributes
    ----------
    nodes
        By key (IR name), in model-file order.
    graph
        ``networkx.DiGraph`` on node *keys* with attributes ``name`` and ``kind``.
    notes
        Limitations that apply to this model's link scores.
    """

    nodes: dict[str, Node]
    graph: nx.DiGraph
    notes: tuple[str, ...] = field(default_factory=tuple)

    def name(self, key: str) -> str:
        """Display name of a node."""
        return self.nodes[key].name

    def to_networkx(self) -> nx.DiGraph:
        """A copy of the graph with model-file names as nodes (attributes ``kind``, ``key``)."""
        g = nx.DiGraph()
        for key, node in self.nodes.items():
            g.add_node(node.name, kind=node.kind, key=key)
        g.add_edges_from((self.nodes[a].name, self.nodes[b].name) for a, b in self.graph.edges)
        return g

    @property
    def stocks(self) -> list[str]:
        """Keys of the accumulating nodes (every feedback loop contains one)."""
        return [k for k, n in self.nodes.items() if n.accumulates]


def _first_order_rate(state_args: dict[str, Expr], kind: str, value: Expr) -> Expr:
    """``(input - value) * order / time``: the rate of change of a SMOOTH/DELAY output."""
    if kind == "smooth":
        gap = BinOp("-", state_args["input"], value)
        return BinOp("/", BinOp("*", gap, state_args.get("order", Num(1.0))), state_args["smooth_time"])
    return BinOp("/", BinOp("-", state_args["input"], value), state_args["delay_time"])


def _is_order_one(expr: Expr | None) -> bool:
    return isinstance(expr, Num) and expr.value == 1.0


def build_graph(ir: ModelIR) -> CausalGraph:
    """Build the causal graph of a model from its IR.

    Parameters
    ----------
    ir
        The model's IR (:func:`pvsd.engine.ir.build_ir`).

    Returns
    -------
    CausalGraph
        Nodes are the variables that change during a run; see the module
        docstring for how stateful builtins are represented.
    """
    static = static_names(ir)
    nodes: dict[str, Node] = {}
    notes: list[str] = []
    kept_states: dict[str, str] = {}  # state -> owner, for states that are nodes of their own

    def state_node(state: str, value: Expr, owner_name: str, label: str) -> tuple[Expr | None, str, set[str]]:
        st = ir.states[state]
        label_kind = _STATE_LABEL.get(st.kind, st.kind.upper())
        if st.kind in SCORED_STATEFUL:
            eq = _first_order_rate(st.args, st.kind, value)
            order = st.args.get("order")
            note = ""
            if not _is_order_one(order):
                note = (f"{label_kind} in {owner_name!r} is of order above 1: its link scores use the "
                        "first-order rate of change (an approximation).")
            if st.kind == "delayn" and not references(st.args.get("delay_time")) <= static:
                note = (note + " " if note else "") + (
                    f"{label_kind} in {owner_name!r} has a delay time that changes during the run: "
                    "its link scores use the current delay time (the simulation keeps each stage's "
                    "own, as PySD does), an approximation.")
            refs = references(eq)
            return eq, note, refs
        refs: set[str] = set()
        for k, a in st.args.items():
            if not k.startswith("initial"):
                refs |= references(a)
        return None, (f"{label_kind} in {owner_name!r}: links into it are shown but not scored "
                      "(their link score is taken as 0)."), refs

    for v in ir.variables.values():
        if v.kind not in ("stock", "flow", "aux") or v.py_name in static:
            continue
        if v.kind == "stock":
            eq = v.net_flow
            nodes[v.py_name] = Node(v.py_name, v.name, "stock", eq, (), accumulates=True)
            continue
        own = [s for s in v.statefuls if ir.states[s].kind not in ("integ", "initial")]
        if isinstance(v.expr, Ref) and v.expr.name in ir.states and ir.states[v.expr.name].kind not in (
                "integ", "initial"):
            st = ir.states[v.expr.name]
            eq, note, _refs = state_node(st.py_name, Ref(v.py_name), v.name, v.name)
            nodes[v.py_name] = Node(v.py_name, v.name, st.kind, eq, (), accumulates=True, note=note)
            continue
        nodes[v.py_name] = Node(v.py_name, v.name, v.kind, v.expr, ())
        for s in own:
            kept_states[s] = v.py_name
    for s, owner in kept_states.items():
        st = ir.states[s]
        label = f"{_STATE_LABEL.get(st.kind, st.kind.upper())} in {ir.variables[owner].name}"
        eq, note, _refs = state_node(s, Ref(s), ir.variables[owner].name, label)
        nodes[s] = Node(s, label, st.kind, eq, (), accumulates=True, note=note)

    g = nx.DiGraph()
    final: dict[str, Node] = {}
    for key, node in nodes.items():
        if node.equation is not None:
            refs = references(node.equation)
        else:  # unscored stateful: causes from its arguments
            st_name = key if key in ir.states else ir.variables[key].expr.name  # type: ignore[union-attr]
            refs = set()
            for k, a in ir.states[st_name].args.items():
                if not k.startswith("initial"):
                    refs |= references(a)
        inputs = []
        for r in sorted(refs):
            if r not in nodes:
                continue
            if r == key and node.kind != "stock":
                continue  # a builtin's internal loop (state chasing its input) is not reported
            inputs.append(r)
        final[key] = Node(node.key, node.name, node.kind, node.equation, tuple(inputs),
                          node.accumulates, node.note)
        if node.note and node.note not in notes:
            notes.append(node.note)
    for key, node in final.items():
        g.add_node(key, name=node.name, kind=node.kind)
    for key, node in final.items():
        for r in node.inputs:
            g.add_edge(r, key)
    return CausalGraph(final, g, tuple(notes))


# ----------------------------------------------------------------------------
# Loops
# ----------------------------------------------------------------------------


def _canonical(cycle: Sequence[str], graph: CausalGraph) -> Loop:
    """Rotate a cycle to start at its alphabetically first stock (first variable if it has none)."""
    names = [graph.name(k) for k in cycle]
    firsts = [i for i in range(len(cycle)) if graph.nodes[cycle[i]].accumulates] or list(range(len(cycle)))
    start = min(firsts, key=lambda i: (names[i].casefold(), names[i]))
    keys = tuple(cycle[start:]) + tuple(cycle[:start])
    return Loop(keys, tuple(graph.name(k) for k in keys))


def canonical_loops(cycles: Iterator[Sequence[str]] | Sequence[Sequence[str]], graph: CausalGraph) -> list[Loop]:
    """Loops in a stable order: by length, then by their (sorted) variable names.

    The same model (and the same search settings) always gives the same order,
    hence the same loop ids.
    """
    loops = {(_l := _canonical(c, graph)).keys: _l for c in cycles}
    return sorted(loops.values(), key=lambda lp: (lp.length, sorted(n.casefold() for n in lp.names),
                                                  [n.casefold() for n in lp.names]))


class TooManyLoops(Exception):
    """Internal: enumeration stopped because the model has more loops than allowed."""


def enumerate_loops(graph: CausalGraph, max_length: int | None = None,
                    max_loops: int | None = None) -> list[Loop]:
    """Every feedback loop (simple cycle) up to ``max_length`` variables (Johnson's algorithm).

    Parameters
    ----------
    graph
        The causal graph.
    max_length
        Longest loop to look for, in variables (None: no limit).
    max_loops
        Stop and raise :class:`TooManyLoops` when more loops than this exist.

    Returns
    -------
    list of Loop
        In the stable order of :func:`canonical_loops`. Only loops through at
        least one accumulating node (stock) are feedback loops; with a
        well-formed model (no algebraic loops) that is every cycle.
    """
    stocks = set(graph.stocks)
    found: list[list[str]] = []
    for cyc in nx.simple_cycles(graph.graph, length_bound=max_length):
        if not stocks.intersection(cyc):
            continue
        found.append(cyc)
        if max_loops is not None and len(found) > max_loops:
            raise TooManyLoops(len(found))
    return canonical_loops(found, graph)


def strongest_path_loops(graph: CausalGraph, link_abs: dict[tuple[str, str], Sequence[float]],
                         steps: Sequence[int], max_length: int | None = None) -> list[Loop]:
    """Loops found by the strongest-path search of Eberlein & Schoenberg (2020).

    At each chosen time step, from every stock, a depth-first search follows
    outgoing links in decreasing order of their absolute link score and prunes
    a path when it reaches a variable with a smaller cumulative score (product
    of link scores) than the best seen there so far in the search from that
    stock; each return to the stock records a loop. Inactive links (score 0)
    are not followed. It is a heuristic: it finds the loops that matter most at
    some time, not every loop.

    Parameters
    ----------
    graph
        The causal graph.
    link_abs
        ``(cause, effect) -> |link score|`` by time index, for every edge.
    steps
        Time indices at which to search.
    max_length
        Longest loop to keep (None: no limit).
    """
    succ = {n: list(graph.graph.successors(n)) for n in graph.graph.nodes}
    found: dict[frozenset[tuple[str, str]], list[str]] = {}
    for t in steps:
        out: dict[str, list[tuple[float, str]]] = {}
        for n, targets in succ.items():
            scored = [(float(link_abs[(n, m)][t]), m) for m in targets]
            out[n] = sorted([(s, m) for s, m in scored if s > 0 and not math.isnan(s)],
                            key=lambda p: -p[0])
        for target in graph.stocks:
            _search(target, out, found, max_length)
    return canonical_loops(list(found.values()), graph)


def _search(target: str, out: dict[str, list[tuple[float, str]]],
            found: dict[frozenset[tuple[str, str]], list[str]], max_length: int | None) -> None:
    """One strongest-path search from ``target`` (iterative depth-first search)."""
    best: dict[str, float] = {target: 1.0}
    stack = [target]
    on_path = {target}
    # frames: (node, cumulative score, index of the next outgoing link)
    frames: list[tuple[str, float, int]] = [(target, 1.0, 0)]
    while frames:
        node, score, i = frames[-1]
        links = out[node]
        if i >= len(links):
            frames.pop()
            stack.pop()
            on_path.discard(node)
            continue
        frames[-1] = (node, score, i + 1)
        s, nxt = links[i]
        new = score * s
        if nxt in on_path:
            if nxt == target:
                cyc = list(stack)
                found.setdefault(frozenset(zip(cyc, cyc[1:] + cyc[:1], strict=True)), cyc)
            continue
        if new < best.get(nxt, 0.0):
            continue
        if max_length is not None and len(stack) >= max_length:
            continue
        best[nxt] = new
        stack.append(nxt)
        on_path.add(nxt)
        frames.append((nxt, new, 0))
