"""Names for feedback loops: a model's documented loops (R1, B2 ...) matched to the loops found.

Loop ids (``L0305``) depend on the search; the names modellers give their loops
do not. A loop-names file lists each named loop with its variables in causal
order::

    # public_value_chain_loops.toml
    [[loop]]
    name = "R1 Trust-capability engine"
    variables = ["Digital Capability", "Effective Digital Capability", "...", "Capability Building"]
    meaning = "Better matched capability raises service quality, ... which builds more capability."

``pvsd.loops`` reads ``<model>_loops.toml`` next to the model file when there is
one, checks every named loop against the causal graph (an unknown variable or a
missing link is an error that names the loop and the file) and gives each found
loop its name in the ``name`` column of :attr:`LoopResult.loops`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pvsd.errors import SpecError
from pvsd.naming import NameIndex

if TYPE_CHECKING:
    from pvsd.loops.graph import CausalGraph
    from pvsd.model import Model

__all__ = ["LoopNamesSource", "NamedLoop", "load_loop_names", "loop_names_file", "match_named_loops"]

#: A loop-names file, a mapping ``name -> variables``, named loops, or False for none.
LoopNamesSource = str | Path | Mapping[str, Sequence[str]] | Sequence["NamedLoop"] | bool | None


@dataclass(frozen=True)
class NamedLoop:
    """A loop named by the modeller.

    Attributes
    ----------
    name
        Name shown in tables and figures, e.g. ``"R1 Trust-capability engine"``.
    variables
        The loop's variables in causal order (each influences the next; the
        last influences the first), as written in the model file.
    meaning
        One or two sentences on what the loop does (optional).
    """

    name: str
    variables: tuple[str, ...]
    meaning: str = ""


def loop_names_file(model: Model) -> Path | None:
    """``<model>_loops.toml`` next to the model file, if it exists."""
    cand = model.path.with_name(f"{model.path.stem}_loops.toml")
    return cand if cand.is_file() else None


def load_loop_names(source: LoopNamesSource, model: Model) -> tuple[tuple[NamedLoop, ...], str]:
    """Named loops from a file, a mapping or a sequence; ``None`` looks for the file next to the model.

    Returns the loops (names not yet checked against the model) and where they came from.
    """
    if source is False:
        return (), ""
    if source is None or source is True:
        found = loop_names_file(model)
        if found is None:
            if source is True:
                raise SpecError(f"No loop-names file next to {model.path.name}: expected "
                                f"{model.path.stem}_loops.toml in {str(model.path.parent)!r}.")
            return (), ""
        source = found
    if isinstance(source, (str, Path)):
        from pvsd.parameters import read_toml

        where = str(source)
        return _from_toml(read_toml(source), where), where
    where = "the loop names given"
    if isinstance(source, Mapping):
        items = [NamedLoop(str(k), _variables(v, str(k), where)) for k, v in source.items()]
    else:
        items = []
        for item in source:
            if not isinstance(item, NamedLoop):
                raise SpecError(f"Loop names must be NamedLoop objects or a mapping name -> variables; "
                                f"got {type(item).__name__}.")
            items.append(item)
    _check_unique(items, where)
    return tuple(items), where


def _from_toml(data: Mapping[str, Any], where: str) -> tuple[NamedLoop, ...]:
    unknown = sorted(set(data) - {"loop"})
    if unknown:
        raise SpecError(f"{where}: unknown table(s) {', '.join(map(repr, unknown))}; a loop-names file "
                        "holds only [[loop]] entries with name, variables and (optional) meaning.")
    entries = data.get("loop", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SpecError(f"{where}: 'loop' must be an array of tables, written [[loop]].")
    out = []
    for k, e in enumerate(entries, 1):
        name = e.get("name")
        if not isinstance(name, str) or not name.strip():
            raise SpecError(f"{where}: [[loop]] number {k} has no name; add name = \"R1 ...\".")
        extra = sorted(set(e) - {"name", "variables", "meaning"})
        if extra:
            raise SpecError(f"{where}: loop {name!r} has unknown key(s) {', '.join(map(repr, extra))}; "
                            "use name, variables and meaning.")
        meaning = e.get("meaning", "")
        if not isinstance(meaning, str):
            raise SpecError(f"{where}: the meaning of loop {name!r} must be a string.")
        out.append(NamedLoop(name.strip(), _variables(e.get("variables"), name, where), meaning.strip()))
    _check_unique(out, where)
    return tuple(out)


def _variables(value: Any, name: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value \
            or not all(isinstance(v, str) and v.strip() for v in value):
        raise SpecError(f"{where}: loop {name!r} needs variables = [\"A\", \"B\", ...], the loop's "
                        "variables in causal order (each influences the next, the last the first).")
    vs = [v.strip() for v in value]
    if len(vs) > 1 and vs[0] == vs[-1]:  # "A -> B -> A" written out in full
        vs = vs[:-1]
    return tuple(vs)


def _check_unique(items: Sequence[NamedLoop], where: str) -> None:
    seen: set[str] = set()
    for it in items:
        if it.name in seen:
            raise SpecError(f"{where}: loop name {it.name!r} is used twice; give each loop its own name "
                            "(e.g. add '(branch)' to the second).")
        seen.add(it.name)


def match_named_loops(named: Sequence[NamedLoop], graph: CausalGraph, loop_keys: Sequence[Sequence[str]],
                      where: str, model_file: str) -> tuple[list[str], list[str]]:
    """The name of each found loop ("" when unnamed) and the named loops that were not found.

    Every named loop must be a cycle of the causal graph, else :class:`SpecError`
    (naming the loop, the missing link and the file): a name that matches nothing
    would silently drop out of every report.
    """
    if not named:
        return [""] * len(loop_keys), []
    by_name = {node.name: key for key, node in graph.nodes.items()}
    index = NameIndex(list(by_name), model=model_file)
    wanted: dict[tuple[str, ...], str] = {}
    for lp in named:
        keys = [by_name[index.resolve(v, where=f"{where}, loop {lp.name!r}")] for v in lp.variables]
        if len(set(keys)) != len(keys):
            raise SpecError(f"{where}: loop {lp.name!r} lists a variable twice; a feedback loop passes "
                            "each variable once.")
        for a, b in zip(keys, keys[1:] + keys[:1], strict=True):
            if not graph.graph.has_edge(a, b):
                raise SpecError(
                    f"{where}: loop {lp.name!r} is not a feedback loop of {model_file}: "
                    f"{graph.name(a)!r} does not act on {graph.name(b)!r} (it is not in its equation, "
                    "nor a flow of that stock). List the variables in causal order.")
        wanted[_canonical(keys)] = lp.name
    names = [wanted.pop(_canonical(list(k)), "") for k in loop_keys]
    return names, list(wanted.values())


def _canonical(keys: Sequence[str]) -> tuple[str, ...]:
    """The rotation of a cycle that starts at its smallest key."""
    i = min(range(len(keys)), key=lambda j: keys[j])
    return tuple(keys[i:]) + tuple(keys[:i])
