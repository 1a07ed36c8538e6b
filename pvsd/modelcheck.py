"""Model-file mistakes explained in the modeller's terms: the variable, the line, the fix.

PySD reports a bad model file through its internals (a grammar rule name, a
Python ``KeyError`` on a mangled name, ``RecursionError``, ``NameError: xr``).
These checks read the file's text the way Vensim shows it (one equation per
element, with its line number) and turn the common mistakes into one paragraph:

* a name defined twice,
* ``INTEG`` with the wrong number of arguments,
* a name used but never defined (with the closest defined names),
* a circular definition among auxiliaries (with the cycle),
* a parse error located at its line, with the text at fault.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pvsd.errors import ModelLoadError

__all__ = [
    "Element",
    "check_cycles",
    "explain_parse_error",
    "explain_translate_error",
    "precheck",
    "vensim_elements",
]

_SKETCH = re.compile(r"\\\\\\---///")
_CONTROL = {"initial time", "final time", "time step", "saveper"}


@dataclass(frozen=True)
class Element:
    """One equation of a Vensim file as written."""

    name: str          # as written, without subscripts
    subscripts: str    # the text inside [...] on the left-hand side ("" if none)
    expr: str          # right-hand side (may be "" for a data or lookup definition)
    line: int          # 1-based line where the element starts
    op: str            # "=", ":=", "==", "(" (lookup), ":" (subscript range) or "" (data)


def _norm(name: str) -> str:
    return re.sub(r"[\s_]+", " ", name.strip().strip('"')).lower()


def vensim_elements(text: str) -> list[Element]:
    """The file's equations (macros and the sketch left out), with their starting lines."""
    m = _SKETCH.search(text)
    body = text[: m.start()] if m else text
    out: list[Element] = []
    line = 1  # line at which the current chunk starts
    in_macro = False
    for chunk in body.split("|"):
        chunk_line = line
        line += chunk.count("\n")
        eq = chunk.split("~", 1)[0]
        stripped = eq.strip()
        if stripped.startswith("{UTF-8}"):
            stripped = stripped[len("{UTF-8}"):].strip()
        if ":END OF MACRO:" in stripped:
            in_macro = False
            eq = eq.split(":END OF MACRO:", 1)[1]
            stripped = eq.strip()
        if ":MACRO:" in stripped:
            in_macro = True  # a macro's names are local to it
        if in_macro or not stripped:
            continue
        lead = eq[: len(eq) - len(eq.lstrip())]
        if eq.lstrip().startswith("{UTF-8}"):
            after = eq.lstrip()[len("{UTF-8}"):]
            lead += eq.lstrip()[: len("{UTF-8}")] + after[: len(after) - len(after.lstrip())]
        start_line = chunk_line + lead.count("\n")
        mm = re.match(r'\s*("(?:[^"\\]|\\.)*"|[^=:(\[~]+)\s*(\[[^\]]*\])?\s*(:=|==|=|:|\()?(.*)\Z',
                      stripped, re.S)
        if not mm:
            continue
        name, subs, op, rest = mm.group(1), mm.group(2) or "", mm.group(3) or "", mm.group(4)
        out.append(Element(name.strip(), subs.strip("[] "), rest.strip(), start_line, op))
    return out


def _defined(elements: Iterable[Element]) -> dict[str, list[Element]]:
    seen: dict[str, list[Element]] = {}
    for el in elements:
        if el.op == ":":  # subscript ranges live in their own namespace
            continue
        seen.setdefault(_norm(el.name), []).append(el)
    return seen


def _split_args(text: str) -> list[str]:
    depth, cur, args, quoted = 0, [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if quoted or ch == '"':
            cur.append(ch)
            continue
        if ch in "([":
            depth += 1
        elif ch in ")]":
            if depth == 0:
                break
            depth -= 1
        if ch == "," and depth == 0:
            args.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    args.append("".join(cur))
    return [a for a in (x.strip() for x in args)]


def precheck(path: Path) -> None:
    """Check a model file's text before PySD parses it (raises :class:`ModelLoadError`)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    if path.suffix.lower() != ".mdl":
        _precheck_xmile(path, text)
        return
    elements = vensim_elements(text)
    for els in _defined(elements).values():
        plain = [e for e in els if not e.subscripts and e.op in ("=", ":=", "==", "(")]
        if len(plain) > 1:
            lines = " and ".join(str(e.line) for e in plain[:3])
            raise ModelLoadError(
                f"{path.name}: {plain[0].name!r} is defined {len(plain)} times (lines {lines}). "
                "A variable has one equation: delete or rename the extra definitions (for a "
                "subscripted variable, give each definition its own subscripts)."
            )
    for el in elements:
        for mm in re.finditer(r"\bINTEG\s*\(", el.expr, re.I):
            args = _split_args(el.expr[mm.end():])
            if len(args) != 2 or not all(args):
                raise ModelLoadError(
                    f"{path.name}, line {el.line}: {el.name!r} calls INTEG with {len(args)} "
                    f"argument{'s' if len(args) != 1 else ''} ({el.expr.strip()[:80]!r}); INTEG "
                    "takes two: INTEG(net flow, initial value), e.g. INTEG(inflow - outflow, 0)."
                )


def _precheck_xmile(path: Path, text: str) -> None:
    """Refuse an XMILE file whose variables PySD would not see (it would load as empty)."""
    found = re.search(r"<(?:\w+:)?(stock|flow|aux)\b", text)
    if found and not re.search(r"<(?:\w+:)?variables\b", text):
        line = text.count("\n", 0, found.start()) + 1
        raise ModelLoadError(
            f"{path.name}, line {line}: the model's <{found.group(1)}> and other variables are not "
            "inside a <variables> section, as XMILE 1.0 requires (this is the pre-standard "
            "layout of early XMILE drafts, e.g. STELLA 10.0's files); PySD would read no "
            "variables from it and every run would be empty. Save the model again as XMILE from "
            "a current Stella, iThink or Vensim, or use its .mdl/.xmile version."
        )


def explain_parse_error(path: Path, exc: BaseException) -> str | None:
    """One paragraph locating a PySD parse error in the file, or None if it cannot be placed."""
    msg = str(exc)
    xmile = path.suffix.lower() != ".mdl"
    bad = re.search(r"(?:begins with|didn't match at) '(.{1,60}?)'", msg, re.S)
    if xmile and bad:
        frag = bad.group(1).strip()
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        for mm in re.finditer(r'<(aux|stock|flow|gf)\b[^>]*\bname="([^"]+)"[^>]*>(.*?)</\1>', text, re.S):
            eqn = re.search(r"<eqn>(.*?)</eqn>", mm.group(3), re.S)
            if eqn and frag and frag in eqn.group(1):
                line = text[: mm.start()].count("\n") + 1
                return (f"{path.name}, line {line}: the equation of {mm.group(1)} {mm.group(2)!r} cannot "
                        f"be read at {frag!r} (equation: {eqn.group(1).strip()[:100]!r}). PySD reads "
                        "XMILE equations in XMILE syntax: check the operators, parentheses and function "
                        "names, and replace placeholders such as '???' or '{Enter equation ...}' with "
                        "an equation.")
    if xmile:
        return (f"Could not read the XMILE file {path.name}: {type(exc).__name__}: {msg[:300]}. "
                "Check that it is well-formed XML exported by Stella, iThink or Vensim (every "
                "<aux>, <stock> and <flow> has a name and an <eqn>), and that equations use "
                "XMILE function names.")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    elements = vensim_elements(text)
    culprit = None
    if bad:
        frag = bad.group(1).strip()
        for el in elements:
            whole = f"{el.name}[{el.subscripts}]{el.op}{el.expr}" if el.subscripts else \
                f"{el.name}{el.op}{el.expr}"
            if frag and (frag in el.expr or frag in whole or frag.replace(" ", "") in whole.replace(" ", "")):
                culprit = el
                break
    if culprit is None:
        return None
    at = f" at {bad.group(1).strip()!r}" if bad else ""
    return (f"{path.name}, line {culprit.line}: the equation of {culprit.name!r} cannot be read{at} "
            f"(equation: {(culprit.expr or culprit.subscripts)[:100]!r}). Check its operators, "
            "parentheses, brackets and commas, and that every equation ends with '~ units ~ "
            "comment |'.")


def explain_translate_error(path: Path, exc: BaseException) -> str | None:
    """A name used but never defined: where it is used and the closest defined names."""
    if not isinstance(exc, KeyError) or not exc.args or path.suffix.lower() != ".mdl":
        return None
    missing = str(exc.args[0])
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    elements = vensim_elements(text)
    defined = {_norm(e.name): e.name for e in elements if e.op != ":"}
    target = _norm(missing.replace("_", " "))
    for el in elements:
        for ref in re.findall(r'"[^"]+"|[A-Za-z][\w \t$\'&%]*', el.expr):
            if _norm(ref) == target and target not in defined:
                close = difflib.get_close_matches(target, list(defined), n=3, cutoff=0.6)
                hint = (" Did you mean " + " or ".join(repr(defined[c]) for c in close) + "?") if close \
                    else " Define it, or correct the spelling."
                return (f"{path.name}, line {el.line}: {ref.strip()!r} is used in {el.name!r} but "
                        f"never defined.{hint}")
    return None


def check_cycles(path: Path, dependencies: Mapping[str, object], names: Mapping[str, str]) -> None:
    """Raise on a circular definition among auxiliaries (PySD would hit RecursionError).

    ``dependencies`` is PySD's dependency record (variable -> its direct inputs; stateful
    objects such as INTEG have ``initial``/``step`` parts and break cycles); ``names``
    maps Python names to model-file names.
    """
    import networkx as nx

    g = nx.DiGraph()
    for var, deps in dependencies.items():
        if not isinstance(deps, Mapping) or var.startswith("_"):
            continue
        for d in deps:
            if d in ("time", "initial", "step") or d.startswith("_"):
                continue
            g.add_edge(var, d)
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return
    chain = [names.get(a, a) for a, _ in cycle] + [names.get(cycle[0][0], cycle[0][0])]
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        lines = {_norm(e.name): e.line for e in vensim_elements(text)} if path.suffix.lower() == ".mdl" \
            else {}
    except OSError:
        lines = {}
    where = [f"{n!r} (line {lines[_norm(n)]})" if _norm(n) in lines else repr(n) for n in chain[:-1]]
    raise ModelLoadError(
        f"{path.name}: circular definition: " + " -> ".join([*where, repr(chain[-1])])
        + ". Each of these is computed from the next, so none can be computed first. Break the "
        "loop with a stock (INTEG) or a delay/smooth, or give one of them an initial value with "
        "INITIAL/ACTIVE INITIAL."
    )
