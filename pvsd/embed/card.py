"""The model card: a model's documentation in self-contained HTML and in Markdown.

Everything comes from the model itself: the purpose from its header comment,
equations rendered back from the IR (never re-read from the file), units, kinds
and comments from the model's variable table, sectors from Vensim groups (or
sketch views), the stock-flow diagram(s) from :mod:`pvsd.embed.diagram`, the
policy levers from :mod:`pvsd.embed.levers`, and the feedback loops from
``pvsd.loops`` when that module is installed.
"""

from __future__ import annotations

import base64
import html
import importlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pvsd.document import new_id
from pvsd.engine.ir import BinOp, Call, Expr, InlineLookup, LookupCall, LookupTable, ModelIR, Num, Ref, UnaryOp
from pvsd.errors import PvsdError

__all__ = ["Block", "ModelCard", "equation_text", "model_card", "write_card"]

CARD_CSS = """
.sd-figure { overflow-x:auto; border:1px solid var(--line,#d9dde5); border-radius:6px; margin:.6rem 0 1rem;
             background:#fff; }
.sd-figure svg { display:block; max-width:none; }
td.eq { min-width:17rem; }
td.eq, code.eq { font-family:ui-monospace,Menlo,Consolas,monospace; font-size:.84rem; white-space:pre-wrap;
                 word-break:break-word; }
table.card td { text-align:left; vertical-align:top; }
table.card td.num { text-align:right; white-space:nowrap; }
table.card td.comment { color:#3b4352; font-size:.86rem; min-width:16rem; }
.kind { display:inline-block; font-size:.78rem; padding:0 .35rem; border-radius:4px; background:#eef1f6; }
.kind.stock { background:#dbe9f8; } .kind.flow { background:#fde8d7; } .kind.constant { background:#eee; }
"""

_FUNC = {
    "if_then_else": "IF THEN ELSE", "xidz": "XIDZ", "zidz": "ZIDZ", "active_initial": "ACTIVE INITIAL",
    "step": "STEP", "ramp": "RAMP", "Xramp": "RAMP", "pulse": "PULSE", "Xpulse": "PULSE",
    "pulse_train": "PULSE TRAIN", "Xpulse_train": "PULSE TRAIN", "ln": "LN", "log": "LOG",
    "integer": "INTEGER", "modulo": "MODULO", "quantum": "QUANTUM", "power": "POWER",
    "arcsin": "ARCSIN", "arccos": "ARCCOS", "arctan": "ARCTAN",
}
_PREC = {"or": 1, "and": 2, "=": 4, "<>": 4, "<": 4, "<=": 4, ">": 4, ">=": 4, "+": 5, "-": 5,
         "*": 6, "/": 6, "^": 8}
_OPS = {"and": ":AND:", "or": ":OR:"}


def _fmt(v: float) -> str:
    if math.isnan(v):
        return ":NA:"
    if math.isinf(v):
        return "1e+38" if v > 0 else "-1e+38"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def _table_text(t: LookupTable) -> str:
    pts = ",".join(f"({_fmt(x)},{_fmt(y)})" for x, y in zip(t.x, t.y, strict=True))
    rng = f"[({_fmt(min(t.x))},{_fmt(min(t.y))})-({_fmt(max(t.x))},{_fmt(max(t.y))})]"
    return f"({rng},{pts})"


def equation_text(e: Expr | None, ir: ModelIR, prec: int = 0) -> str:
    """Readable Vensim-like text of an IR expression (model-file names, Vensim functions)."""
    if e is None:
        return ""
    names = ir.variables

    def sub(x: Expr, p: int = 0) -> str:
        return equation_text(x, ir, p)

    from pvsd.embed.card_arrays import array_text

    got = array_text(e, ir, prec, sub)  # array nodes (ARef is also a Ref)
    if got is not None:
        return got

    if isinstance(e, Num):
        s = _fmt(e.value)
        return f"({s})" if s.startswith("-") and prec > 5 else s
    if isinstance(e, Ref):
        if e.name == "time":
            return "Time"
        call = getattr(ir, "macro_calls", {}).get(e.name)
        if call is not None:  # an inlined macro call: shown as written in the model file
            return f"{call[0]}({', '.join(sub(names[a].expr) for a in call[1])})"
        if e.name in names:
            return names[e.name].name
        if e.name in ir.states:
            return _state_text(e.name, ir)
        return e.name
    if isinstance(e, UnaryOp):
        if e.op == "neg":
            s = "-" + sub(e.operand, 7)
            return f"({s})" if prec > 5 else s
        s = ":NOT: " + sub(e.operand, 3)
        return f"({s})" if prec > 3 else s
    if isinstance(e, BinOp):
        p = _PREC[e.op]
        op = _OPS.get(e.op, e.op)
        if e.op == "^":
            left, right = sub(e.left, p + 1), sub(e.right, p)
        else:
            left, right = sub(e.left, p), sub(e.right, p + 1)
        s = f"{left} {op} {right}" if e.op != "^" else f"{left}^{right}"
        return f"({s})" if p < prec else s
    if isinstance(e, LookupCall):
        return f"{names[e.lookup].name}({sub(e.arg)})"
    if isinstance(e, InlineLookup):
        return f"WITH LOOKUP({sub(e.arg)}, {_table_text(e.table)})"
    if isinstance(e, Call):
        if e.func == "pi":
            return "PI"
        fname = _FUNC.get(e.func, e.func.upper())
        return f"{fname}({', '.join(sub(a) for a in e.args)})"
    return str(e)


def _state_text(name: str, ir: ModelIR) -> str:
    st = ir.states[name]
    a = st.args

    def t(key: str) -> str:
        return equation_text(a.get(key), ir)

    order = a.get("order")
    o = order.value if isinstance(order, Num) else None
    if st.kind == "integ":
        return f"INTEG({t('flow')}, {t('initial')})"
    if st.kind == "smooth":
        if o in (1.0, 3.0):
            return f"SMOOTH{'3' if o == 3 else ''}I({t('input')}, {t('smooth_time')}, {t('initial')})"
        return f"SMOOTH N({t('input')}, {t('smooth_time')}, {t('initial')}, {t('order')})"
    if st.kind == "delay" and o in (1.0, 3.0):
        return f"DELAY{int(o)}I({t('input')}, {t('delay_time')}, {t('initial')})"
    if st.kind in ("delay", "delayn"):
        return f"DELAY N({t('input')}, {t('delay_time')}, {t('initial')}, {t('order')})"
    if st.kind == "delay_fixed":
        return f"DELAY FIXED({t('input')}, {t('delay_time')}, {t('initial')})"
    if st.kind == "trend":
        return f"TREND({t('input')}, {t('average_time')}, {t('initial_trend')})"
    if st.kind == "forecast":
        return f"FORECAST({t('input')}, {t('average_time')}, {t('horizon')}, {t('initial_trend')})"
    if st.kind == "sample_if_true":
        return f"SAMPLE IF TRUE({t('condition')}, {t('input')}, {t('initial')})"
    if st.kind == "initial":
        return f"INITIAL({t('initial')})"
    return st.kind.upper()


# ----------------------------------------------------------------------------
# The card
# ----------------------------------------------------------------------------


@dataclass
class Block:
    """One section of the card, in both output formats."""

    title: str
    html: str
    markdown: str


@dataclass
class ModelCard:
    """A model's documentation, section by section.

    Use :meth:`html` for a self-contained page, :meth:`markdown` for Markdown,
    or add :attr:`blocks` to a :class:`~pvsd.document.Report`.
    """

    model: Any
    blocks: list[Block] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)

    def html(self) -> str:
        """A self-contained HTML page (no script, no network)."""
        from pvsd.document import Report

        rep = Report(title=f"{self.model.name}: model card",
                     subtitle=f"Model {self.model.path.name} · SHA-256 {self.model.sha256[:16]}… · "
                              f"{self.provenance.get('created', '')}",
                     provenance=self.provenance)
        add_card(rep, self, css=True)
        return rep.render()  # no plotly figure, so no plotly.js

    def markdown(self) -> str:
        """The card in (GitHub-flavoured) Markdown; diagrams as embedded SVG data URIs."""
        out = [f"# {self.model.name}: model card", ""]
        for b in self.blocks:
            out += [f"## {b.title}", "", b.markdown.strip(), ""]
        out += ["## Provenance", ""]
        for k, v in self.provenance.items():
            out.append(f"- **{k}**: `{v}`")
        return "\n".join(out) + "\n"


def add_card(rep: Any, card: ModelCard, css: bool = True, prefix: str = "") -> None:
    """Append the card's sections to a :class:`~pvsd.document.Report`."""
    for k, b in enumerate(card.blocks):
        rep.section(prefix + b.title)
        rep.add_html((f"<style>{CARD_CSS}</style>" if css and k == 0 else "") + b.html)


def _md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _md_table(frame: pd.DataFrame, code_cols: Sequence[str] = ()) -> str:
    cols = list(frame.columns)
    # header cells are escaped too: "Mean |relative score|" would otherwise add cells
    lines = ["| " + " | ".join(_md_cell(c) for c in cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        cells = []
        for c, v in zip(cols, row, strict=True):
            text = _md_cell(_cell(v))
            cells.append(f"`{text}`" if c in code_cols and text else text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    return str(v)


def _html_table(frame: pd.DataFrame, code_cols: Sequence[str] = (), num_cols: Sequence[str] = (),
                comment_cols: Sequence[str] = (), raw_cols: Sequence[str] = ()) -> str:
    head = "".join(f'<th class="text">{html.escape(str(c))}</th>' for c in frame.columns)
    rows = []
    for row in frame.itertuples(index=False):
        cells = []
        for c, v in zip(frame.columns, row, strict=True):
            cls = "eq" if c in code_cols else "num" if c in num_cols else "comment" if c in comment_cols else ""
            text = str(v) if c in raw_cols else html.escape(_cell(v))
            cells.append(f'<td class="{cls}">{text}</td>' if cls else f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="tablewrap"><table class="data card"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\\\n", " ").replace("\\ ", " ")).strip()


def _equation(v: Any, ir: ModelIR | None) -> str:
    if ir is None:
        return ""
    if v.kind == "lookup" and v.lookup is not None:
        mode = "" if v.lookup.mode == "interpolate" else f"  [{v.lookup.mode}]"
        if getattr(v.lookup, "shape", ()):  # an arrayed table: one table per element
            from pvsd.embed.card_arrays import arrayed_table_text

            return arrayed_table_text(v, ir, _table_text) + mode
        return _table_text(v.lookup) + mode
    if getattr(v, "components", ()):
        from pvsd.embed.card_arrays import arrayed_equation

        return arrayed_equation(v, ir, lambda x: equation_text(x, ir))
    if v.kind == "stock":
        return f"INTEG({equation_text(v.net_flow, ir)}, {equation_text(v.initial, ir)})"
    return equation_text(v.expr, ir)


_POLARITY = {"R": "reinforcing (R)", "B": "balancing (B)", "U": "undetermined", "+": "reinforcing (R)",
             "-": "balancing (B)"}


def _loops_block(model: Any, max_loops: int, n_diagrams: int) -> Block:
    """The feedback-loop section from ``pvsd.loops`` (imported lazily), or a note why it is missing."""
    try:
        mod = importlib.import_module("pvsd.loops")
        fn = mod.loops
    except (ImportError, AttributeError):
        text = ("Feedback-loop analysis (pvsd.loops) is not part of this pvsd installation, so the loops "
                "are not listed here.")
        return Block("Feedback loops", f'<div class="notice">{html.escape(text)}</div>', f"> {text}")
    try:
        res = fn(model)
    except Exception as exc:  # an optional section must not sink the card or a report
        text = f"The feedback loops could not be listed: {exc}"
        return Block("Feedback loops", f'<div class="notice">{html.escape(text)}</div>', f"> {text}")
    table = getattr(res, "loops", None)
    message = str(getattr(res, "message", "") or "")
    if not isinstance(table, pd.DataFrame) or table.empty:
        text = message or "The model has no feedback loop."
        return Block("Feedback loops", f"<p>{html.escape(text)}</p>", text)
    t = table.copy()
    key = next((c for c in ("mean_abs_relative_score", "max_abs_relative_score") if c in t.columns), None)
    if key is not None:
        t = t.sort_values(key, ascending=False, kind="stable")
    shown = t.head(max_loops)
    if "name" in t.columns:  # every loop the modeller named is listed, however small its score
        named = t[(t["name"].fillna("") != "") & ~t.index.isin(shown.index)]
        shown = pd.concat([shown, named])
    rows = []
    for r in shown.to_dict("records"):
        vs = _loop_vars(r.get("variables", ()))
        label = f"{r.get('id', '')} {r.get('name', '') or ''}".strip()
        pol = str(r.get("polarity", ""))
        rows.append((label, _POLARITY.get(pol, pol), str(r.get("meaning", "") or ""),
                     " → ".join([*vs, vs[0]]) if vs else "", len(vs),
                     f"{100 * float(r[key]):.1f}%" if key is not None else ""))
    cols = ["Loop", "Polarity", "Meaning", "Variables (causal order)", "Length"]
    frame = pd.DataFrame(rows, columns=[*cols, "Mean |relative score|"])
    if key is None:
        frame = frame[cols]
    if not frame["Meaning"].str.len().any():
        frame = frame.drop(columns="Meaning")
    counts = t["polarity"].value_counts() if "polarity" in t.columns else pd.Series(dtype=int)
    summary = (f"{len(t)} feedback loops ({counts.get('R', 0)} reinforcing, {counts.get('B', 0)} balancing"
               + (f", {counts.get('U', 0)} undetermined" if counts.get("U", 0) else "") + "). "
               + (f"The {min(max_loops, len(t))} that matter most over the baseline run (Loops that Matter "
                  "relative scores) and every named loop are listed. " if len(shown) < len(t) else "")
               + ("Arrayed model: loops over element-level variables (Var[element]). "
                  if "element-level" in message else "")
               + "Reinforcing loops amplify change, balancing loops counteract it; polarities come from "
                 "the run. Highlight a loop in the diagram with `pvsd diagram MODEL --highlight \"A,B,C\"`.")
    h = f"<p>{html.escape(summary)}</p>" + _html_table(frame, num_cols=("Length", "Mean |relative score|"),
                                                       comment_cols=("Meaning",))
    m = summary + "\n\n" + _md_table(frame)
    if n_diagrams:
        from pvsd.embed.diagram import loop_diagram

        for k, r in enumerate(shown.head(n_diagrams).to_dict("records")):
            vs = _loop_vars(r.get("variables", ()))
            if len(vs) < 2:
                continue
            d = loop_diagram(model, vs, uid=new_id(f"loop{k}-{model.sha256[:6]}"))
            label = f"{r.get('id', '')} {r.get('name', '') or ''}".strip()
            cap = (f"Loop {label} ({_POLARITY.get(str(r.get('polarity', '')), '')}) "
                   f"highlighted in view '{d.title}'")
            h += f"<h3>{html.escape(cap)}</h3><div class=\"sd-figure\">{d.svg}</div>"
            m += f"\n\n### {cap}\n\n![{cap}]({_svg_data_uri(d.svg)})\n"
    return Block("Feedback loops", h, m)


def _loop_vars(value: Any) -> list[str]:
    if isinstance(value, str):
        parts = [p.strip() for p in re.split(r"\s*(?:->|→|,)\s*", value) if p.strip()]
        return parts[:-1] if len(parts) > 1 and parts[0] == parts[-1] else parts
    try:
        return [str(x) for x in value]
    except TypeError:
        return [str(value)]


def _svg_data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _dims_text(model: Any, name: str) -> str:
    """``Actor: Government, Firms, Civil Society`` for an arrayed variable ("" for a scalar one)."""
    d = getattr(model, "_dims", {}).get(name)
    if d is None:
        return ""
    # a long dimension is listed once, in the Dimensions section, not in every row
    return " × ".join(f"{dim}: {', '.join(map(str, c))}" if len(c) <= 12 else f"{dim} ({len(c)} elements)"
                      for dim, c in zip(d.dims, d.coords, strict=True))


def model_card(model: Any, loops: bool = True, diagram: bool = True, max_loops: int = 20,
               loop_diagrams: int = 3) -> ModelCard:
    """Build the model card of a model.

    Parameters
    ----------
    model
        A :class:`pvsd.Model`.
    loops
        Include the feedback-loop section (from ``pvsd.loops`` when installed).
    diagram
        Include the stock-flow diagram(s).
    max_loops
        Most loops listed (those with the highest mean relative loop score first).
    loop_diagrams
        Number of listed loops also drawn highlighted in the diagram.

    Returns
    -------
    ModelCard
    """
    from pvsd.embed.diagram import diagrams
    from pvsd.embed.levers import levers
    from pvsd.embed.sketch import parse_sketch, vensim_groups
    from pvsd.provenance import provenance

    ir: ModelIR | None
    try:
        from pvsd.embed.js_backend import ir_of

        ir = ir_of(model)
    except PvsdError:
        ir = None
    table = model.variables
    by_name = {v.name: v for v in ir.variables.values()} if ir is not None else {}
    card = ModelCard(model, provenance=provenance(model.path, model.sha256, kind="model card"))
    blocks = card.blocks

    # purpose and facts
    desc = _clean(model.description)
    counts = table["kind"].value_counts()
    time_units = str(table.loc[table["name"] == "TIME STEP", "units"].iloc[0]) if \
        (table["name"] == "TIME STEP").any() else ""
    facts = [
        ("Model file", model.path.name), ("SHA-256", model.sha256),
        ("Simulated period", f"{model.initial_time:g} to {model.final_time:g}, time step "
                             f"{model.time_step:g}, saved every {model.saveper:g} {time_units}".strip()),
        ("Variables", ", ".join(f"{counts.get(k, 0)} {k}s" for k in
                                ("stock", "flow", "aux", "constant", "lookup") if counts.get(k, 0))),
    ]
    subs = dict(getattr(model, "subscripts", {}) or {})
    if subs:
        facts.append(("Dimensions", "; ".join(f"{d} ({len(e)})" for d, e in subs.items())))
    purpose = desc or "The model file has no header comment describing its purpose."
    from pvsd.document import kv_table

    blocks.append(Block(
        "Purpose",
        f"<p>{html.escape(purpose)}</p>" + kv_table(facts),
        purpose + "\n\n" + "\n".join(f"- **{k}**: {v}" for k, v in facts),
    ))

    if subs:
        from pvsd.embed.card_arrays import subscript_rows

        sf = pd.DataFrame(subscript_rows(subs), columns=["Dimension", "Elements", "Count"])
        intro = ("Subscript ranges (dimensions) of the model and their elements; an arrayed variable "
                 "has one value per element, named Var[element] in results and scenarios.")
        blocks.append(Block("Dimensions", f"<p>{html.escape(intro)}</p>" + _html_table(sf, num_cols=("Count",)),
                            intro + "\n\n" + _md_table(sf)))

    from pvsd.embed.theory import markdown_html, model_doc

    doc = model_doc(model.path)
    if doc.theory:
        src = f"From {doc.source.name}, the model's documentation." if doc.source else ""
        blocks.append(Block(
            "Theory",
            "".join(f"<h3>{html.escape(h)}</h3>{markdown_html(b)}" for h, b in doc.theory)
            + f'<p class="caption">{html.escape(src)}</p>',
            "\n\n".join(f"### {h}\n\n{b}" for h, b in doc.theory) + f"\n\n*{src}*",
        ))

    # diagram(s)
    if diagram:
        figs = diagrams(model, uid=new_id(f"card-{model.sha256[:6]}"))
        parts_h, parts_m = [], []
        for d in figs:
            cap = d.title
            parts_h.append(f"<h3>{html.escape(cap)}</h3><div class=\"sd-figure\">{d.svg}</div>")
            parts_m.append(f"### {cap}\n\n![{cap}]({_svg_data_uri(d.svg)})\n")
        note = figs[0].note if figs else ""
        blocks.append(Block(
            "Stock-flow diagram" + ("s" if len(figs) > 1 else ""),
            f'<p class="caption">{html.escape(note)}</p>' + "".join(parts_h),
            f"_{note}_\n\n" + "\n".join(parts_m),
        ))

    # stocks
    rows = []
    for name in model.stocks:
        v = by_name.get(name)
        units = model.units.get(name, "")
        if v is None:
            rows.append((name, "", "", "", "", units))
            continue
        if getattr(v, "components", ()):  # arrayed stock: its INTEG per definition
            from pvsd.embed.card_arrays import arrayed_stock

            init, net = arrayed_stock(v, ir, lambda x: equation_text(x, ir))  # type: ignore[arg-type]
            ins = ", ".join(ir.variables[f].name for f in v.inflows if f in ir.variables)  # type: ignore[union-attr]
            outs = ", ".join(ir.variables[f].name for f in v.outflows if f in ir.variables)  # type: ignore[union-attr]
            rows.append((name, init, ins, outs, net, units))
            continue
        ins = ", ".join(ir.variables[f].name for f in v.inflows if f in ir.variables)  # type: ignore[union-attr]
        outs = ", ".join(ir.variables[f].name for f in v.outflows if f in ir.variables)  # type: ignore[union-attr]
        net = "" if (ins or outs) else equation_text(v.net_flow, ir)  # type: ignore[arg-type]
        rows.append((name, equation_text(v.initial, ir), ins, outs, net, units))  # type: ignore[arg-type]
    if rows:
        st = pd.DataFrame(rows, columns=["Stock", "Initial value", "Inflows", "Outflows", "Net flow", "Units"])
        if not st["Net flow"].astype(bool).any():
            st = st.drop(columns="Net flow")
        blocks.append(Block(
            "Stocks and flows",
            "<p>Each stock accumulates its inflows minus its outflows from its initial value.</p>"
            + _html_table(st, code_cols=("Initial value", "Net flow")),
            _md_table(st, code_cols=("Initial value", "Net flow")),
        ))

    # levers
    lv = levers(model)
    if lv:
        prim = [x for x in lv if x.primary]
        frame = pd.DataFrame(
            [(x.name, x.default, f"[{x.lo:g}, {x.hi:g}]" + ("" if x.declared else " (derived)"), x.units,
              _clean(x.comment)) for x in prim],
            columns=["Lever", "Model value", "Range", "Units", "Comment"])
        others = len(lv) - len(prim)
        tail = (f" {others} further constants carry a declared range and are listed with the variables."
                if others else "")
        intro = ("The constants a policy scenario is expected to change, with the range the model "
                 "declares for them (a scenario outside it is refused)." + tail)
        blocks.append(Block("Policy levers",
                            f"<p>{html.escape(intro)}</p>"
                            + _html_table(frame, num_cols=("Model value",), comment_cols=("Comment",)),
                            intro + "\n\n" + _md_table(frame)))

    # loops
    if loops:
        blocks.append(_loops_block(model, max_loops, loop_diagrams))

    # variables by sector
    groups = vensim_groups(model.path)
    gmap: dict[str, str] = {}
    source = ""
    if groups:
        for raw, grp in groups.items():
            try:
                gmap[model.resolve(raw)] = grp
            except PvsdError:
                continue
        source = "Vensim group"
    else:
        for view in parse_sketch(model.path):
            for o in view.variables():
                if o.shadow:
                    continue
                try:
                    gmap.setdefault(model.resolve(o.name), view.name)
                except PvsdError:
                    continue
        source = "sketch view" if gmap else ""
    kinds_order = {"stock": 0, "flow": 1, "aux": 2, "lookup": 3, "constant": 4, "data": 5, "control": 6}
    recs = []
    for r in table.itertuples(index=False):
        grp = "Simulation control" if r.kind == "control" else gmap.get(r.name, "")
        if not grp:
            grp = "Other variables" if source else {"stock": "Stocks", "flow": "Flows", "aux": "Auxiliaries",
                                                     "constant": "Constants", "lookup": "Lookups"}.get(r.kind,
                                                                                                      "Other")
        eq = _equation(by_name[r.name], ir) if r.name in by_name else ""
        recs.append((grp, kinds_order.get(r.kind, 9), r.name, r.kind, eq, r.units, _clean(r.comment),
                     _dims_text(model, r.name)))
    order: list[str] = []
    for g in [*dict.fromkeys(gmap.values()), *[x[0] for x in recs]]:
        if g not in order and g != "Simulation control":
            order.append(g)
    order.append("Simulation control")
    h_parts, m_parts = [], []
    how = (f"Grouped by {source}." if source else "Grouped by kind (the model has no groups or views).")
    if ir is None:
        how += (" Equations are not shown: the model was loaded from a translated .py file, which keeps "
                "no abstract model.")
    for g in order:
        sub = sorted([x for x in recs if x[0] == g], key=lambda x: (x[1], x[2].lower()))
        if not sub:
            continue
        frame = pd.DataFrame([(x[2], x[7], x[3], x[4], x[5], x[6]) for x in sub],
                             columns=["Variable", "Dimensions", "Kind", "Equation", "Units", "Comment"])
        if not subs:
            frame = frame.drop(columns="Dimensions")
        hframe = frame.copy()
        hframe["Kind"] = [f'<span class="kind {html.escape(k)}">{html.escape(k)}</span>' for k in frame["Kind"]]
        h_parts.append(f"<h3>{html.escape(g)}</h3>" + _html_table(hframe, code_cols=("Equation",),
                                                                   comment_cols=("Comment",), raw_cols=("Kind",)))
        m_parts.append(f"### {g}\n\n" + _md_table(frame, code_cols=("Equation",)) + "\n")
    blocks.append(Block("Variables and equations",
                        f'<p class="caption">{html.escape(how)} Equations are rendered from the model as '
                        "pvsd runs it.</p>" + "".join(h_parts),
                        f"_{how}_\n\n" + "\n".join(m_parts)))
    if doc.references:
        blocks.append(Block("References", markdown_html(doc.references), doc.references))
    return card


def write_card(model: Any, out: str | Path | None = None, markdown: str | Path | None = None,
               force: bool = False, loops: bool = True) -> list[Path]:
    """Write the model card as HTML and/or Markdown (atomically; never overwrite without ``force``)."""
    from pvsd.io import check_new, write_texts

    targets = [p for p in (out, markdown) if p is not None]
    for p in targets:
        check_new(p, force)
    card = model_card(model, loops=loops)
    files: dict[str | Path, str] = {}
    if out is not None:
        files[out] = card.html()
    if markdown is not None:
        files[markdown] = card.markdown()
    return write_texts(files, force=force)  # both or neither
