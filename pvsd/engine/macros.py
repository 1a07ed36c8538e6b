"""Vensim macros inlined into the IR.

PySD runs every macro call site as its own ``Macro`` object: a small model with
its own stocks, whose parameters are the call's argument expressions (evaluated
in the calling model at the current time) and whose value is the macro's
variable of the same name as the macro. Its states are Euler-integrated with the
calling model's (``state + ddt * dt``), so a call site is, operation for
operation, a copy of the macro's equations with the arguments substituted.

That is what :func:`inline_call` builds: for call site ``k`` of macro ``M`` in
variable ``Owner``, every macro variable ``x`` becomes an IR variable named
``macro__call<k>__x`` (model-file name ``"x (M in Owner)"``), every macro
parameter ``p`` a variable ``macro__call<k>__p`` holding the argument
expression, and the call itself a reference to the copy of ``M``'s return
variable. Stocks and stateful builtins inside the macro are copied too (their
internal states get the call's prefix), so each call site integrates its own
states and every back end reading the IR runs macros vectorised.

PySD binds only a macro's primary output at a call site (the ``:`` extra
outputs of a macro definition are not reachable from the calling model), and so
does this module. Macros in arrayed models, macros with subscripts and macros
referring to the control variables remain unsupported (the per-run PySD
fallback runs them).
"""

from __future__ import annotations

import math
from typing import Any

from pvsd.engine.ir import Expr, Num, Ref, Unsupported, Variable, _init_refs, references

__all__ = ["MACRO_PREFIX", "inline_call", "make_macro_builder", "visible_graph"]

#: Python names of inlined macro variables start with this (then the call number).
MACRO_PREFIX = "macro__call"

#: Deepest nesting of macro calls inside macros (a guard against recursion).
MAX_DEPTH = 20


def make_macro_builder(base: type) -> type:
    """A builder class for one macro call site, derived from the IR builder ``base``."""

    class MacroBuilder(base):  # type: ignore[misc,valid-type]
        """Builds the variables of one macro section under a call-site prefix."""

        def __init__(self, section: Any, path: Any, root: Any, prefix: str, label: str,
                     depth: int) -> None:
            from pysd.builders.python.namespace import NamespaceManager

            self.prefix = prefix
            self.label = label
            self.depth = depth
            self.root = root
            super().__init__(section, path)
            # the macro's own namespace: its parameters first (as PySD's macro builder)
            self.ns = NamespaceManager(list(section.params))
            for el in section.elements:
                self.ns.add_to_namespace(el.name)
            self.cleanspace = {k: (v if v == "time" else prefix + v)
                               for k, v in self.ns.cleanspace.items()}
            self.lookup_names = {prefix + self.ns.namespace[el.name] for el in section.elements
                                 if any(type(c).__name__ == "AbstractLookup"
                                        for c in el.components)}
            # one state table, one problem list and one call counter for the whole model
            self.states = root.states
            self.unsupported = root.unsupported
            self.macros = root.macros
            self.macro_sections = root.macro_sections
            self.extra_vars = root.extra_vars
            self.macro_calls = root.macro_calls
            self.macro_labels = root.macro_labels
            self.macro_info = root.macro_info

        def py_of(self, name: str) -> str:
            return self.prefix + self.ns.namespace[name]

        def display(self, name: str) -> str:
            return f"{name} ({self.label})"

        def _state(self, kind: str, args: dict[str, Any], non_negative: bool = False) -> Expr:
            # internal states share one table: their names come from the model's namespace
            own, self.ns = self.ns, self.root.ns
            try:
                return super()._state(kind, args, non_negative)
            finally:
                self.ns = own

    return MacroBuilder


def inline_call(builder: Any, fname: str, arguments: tuple[Any, ...]) -> Expr:
    """Inline one call of macro ``fname`` made in the variable ``builder`` is converting.

    Returns the expression of the call's value (a reference to the copy of the
    macro's return variable); the copied variables go to ``builder.extra_vars``.
    """
    section = builder.macro_sections.get(fname)
    depth = getattr(builder, "depth", 0) + 1
    if section is None:
        return builder.unsupported_here("macro", fname)
    if depth > MAX_DEPTH:
        return builder.unsupported_here("macro", f"{fname}: nested deeper than {MAX_DEPTH}")
    if section.subscripts:
        return builder.unsupported_here("macro with subscripts", fname)
    params = list(section.params)
    if len(arguments) != len(params):
        return builder.unsupported_here(
            "macro", f"{fname} takes {len(params)} arguments, called with {len(arguments)}")
    builder.macro_calls[0] += 1
    k = builder.macro_calls[0]
    prefix = f"{MACRO_PREFIX}{k}__"
    taken = set(builder.cleanspace.values()) | set(builder.extra_vars) | set(builder.states)
    while any(v.startswith(prefix) for v in taken):  # a model variable already named so
        builder.macro_calls[0] += 1
        k = builder.macro_calls[0]
        prefix = f"{MACRO_PREFIX}{k}__"
    owner, owner_py = builder._current, builder._current_py
    label = f"{fname.upper().replace('_', ' ')} in {owner}"
    root = getattr(builder, "root", builder)
    seen = root.macro_labels.get(label, 0)
    root.macro_labels[label] = seen + 1
    if seen:  # the same macro called twice in one variable
        label += f" #{seen + 1}"
    sub = make_macro_builder(type(root))(section, builder.path, root, prefix, label, depth)
    # the arguments: one variable per parameter, converted where the call is (the
    # argument's own stateful builtins belong to that parameter variable)
    for p in params:
        ppy = prefix + sub.ns.namespace[p]
        pname = f"{p} ({label})"
        builder._current, builder._current_py = pname, ppy
        try:
            expr = builder.conv(arguments[params.index(p)])
        finally:
            builder._current, builder._current_py = owner, owner_py
        own = tuple(n for n, s in builder.states.items() if s.owner == ppy)
        deps = references(expr)
        builder.extra_vars[ppy] = Variable(
            name=pname, py_name=ppy, kind="aux" if deps or own else "constant", expr=expr,
            statefuls=own, deps_dynamic=frozenset(deps), deps_initial=frozenset(_init_refs(expr)),
            comment=f"argument {p!r} of the macro", origin=label)
    inner = sub.build_section()
    builder.extra_vars.update(inner)
    ret = prefix + sub.ns.namespace.get(_return_name(section), section.name)
    if ret not in inner:
        builder.unsupported.append(Unsupported("macro", owner, f"{fname} defines no variable "
                                               "named like the macro (its output)"))
        return Num(math.nan)
    root.macro_info[ret] = (fname.upper().replace("_", " "),
                            tuple(prefix + sub.ns.namespace[p] for p in params))
    return Ref(ret)


def visible_graph(ir: Any) -> dict[str, set[str]]:
    """:meth:`ModelIR.graph` over the model's own variables, through inlined macros.

    A macro's copied variables are passed through: ``x -> (macro internals) -> y``
    becomes ``x -> y``, so a diagram of the model file's variables keeps the links
    a macro call makes.
    """
    g = ir.graph()

    def inner(n: str) -> bool:
        v = ir.variables.get(n)
        return v is not None and bool(v.origin)

    if not any(inner(n) for n in g):
        return g
    out: dict[str, set[str]] = {}
    for c, effects in g.items():
        if inner(c):
            continue
        seen: set[str] = set()
        stack = list(effects)
        reach: set[str] = set()
        while stack:
            e = stack.pop()
            if e in seen:
                continue
            seen.add(e)
            if inner(e):
                stack.extend(g.get(e, ()))
            elif e != c or c in effects:
                reach.add(e)
        out[c] = reach
    return out


def _return_name(section: Any) -> str:
    """The model-file name of the macro's output variable (named like the macro)."""
    want = str(section.name).lower().replace(" ", "_")
    for el in section.elements:
        if str(el.name).strip().lower().replace(" ", "_") == want:
            return el.name
    return str(section.name)
