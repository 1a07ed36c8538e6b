"""Stock-flow diagrams as SVG: from the Vensim sketch, or laid out automatically.

:func:`diagrams` gives one :class:`Diagram` per view of a Vensim model's sketch
(positions as the modeller drew them, at scale 1: stocks as boxes, flows as
double-line pipes with valves, clouds, auxiliaries as text, arrows as curves with
their polarity). A model without a sketch (XMILE, a translated ``.py``, a
``.mdl`` without diagram) gets its causal graph laid out automatically
(networkx), and the diagram says so. Any diagram can highlight a feedback loop
(a list of variable names, in loop order).

Every drawn variable is a ``<g class="sd-node ...">`` with ``data-name``,
``data-kind``, ``data-x`` and ``data-y`` (centre in SVG coordinates), so that
pages and tests can find it.
"""

from __future__ import annotations

import html
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pvsd.document import new_id
from pvsd.embed.sketch import SketchObject, View, parse_sketch
from pvsd.errors import PvsdError

__all__ = ["Diagram", "diagram_svg", "diagrams", "loop_diagram"]

INK = "#1d2433"
MUTED = "#8a93a3"
ARROW = "#4a5568"
HILITE = "#D55E00"
STOCK_FILL = "#eaf2fb"
FONT = "Helvetica, Arial, sans-serif"
MARGIN = 24


@dataclass
class Diagram:
    """One drawn view.

    Attributes
    ----------
    title
        The view's name (or "Causal graph (automatic layout)").
    svg
        A complete ``<svg>`` element (with ``xmlns``), usable inline in HTML or
        saved as a ``.svg`` file.
    auto
        True when laid out automatically (no sketch).
    note
        What the reader should know (automatic layout, unknown names ...).
    """

    title: str
    svg: str
    auto: bool
    width: float
    height: float
    note: str = ""


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _resolver(model: Any):
    cache: dict[str, tuple[str, str]] = {}

    def resolve(name: str) -> tuple[str, str]:
        """(canonical name, kind); kind "" when the name is not a model variable."""
        if name not in cache:
            try:
                canon = model.resolve(name)
                cache[name] = (canon, model.kind(canon))
            except (PvsdError, KeyError, IndexError):
                cache[name] = (name, "")
        return cache[name]

    return resolve


def _dims_suffix(model: Any, name: str) -> str:
    """``[Region]`` (``[DimA,DimB]``) for an arrayed variable, "" for a scalar one."""
    d = getattr(model, "_dims", {}).get(name)
    return f"[{','.join(d.dims)}]" if d is not None else ""


def _variable_of(name: str) -> str:
    """``Stock[A]`` -> ``Stock``: a diagram draws an arrayed variable once, for all its elements."""
    from pvsd.arrays import split_label

    base, elems = split_label(name)
    return base if elems is not None else name


def _loop_edges(names: Sequence[str] | None, resolve: Any) -> tuple[set[str], set[tuple[str, str]]]:
    if not names:
        return set(), set()
    seq = [resolve(_variable_of(n))[0] for n in names]
    seq = [x for k, x in enumerate(seq) if k == 0 or x != seq[k - 1]]  # Stock[A] -> Stock[B] ...
    if len(seq) > 1 and seq[0] == seq[-1]:
        seq = seq[:-1]
    edges = {(seq[k], seq[(k + 1) % len(seq)]) for k in range(len(seq))} if len(seq) > 1 else set()
    return set(seq), edges


def _wrap(name: str, w: float, h: float) -> list[str]:
    """Lines of a name drawn in a box of half-width ``w`` (Vensim wraps at word boundaries)."""
    per_line = max(8, int(2 * w / 5.6))
    if len(name) <= per_line:
        return [name]
    lines = textwrap.wrap(name, width=per_line, break_long_words=False, break_on_hyphens=False)
    return lines or [name]


def _text(x: float, y: float, lines: list[str], size: float = 11.0, color: str = INK,
          weight: str = "normal", italic: bool = False) -> str:
    lh = size * 1.15
    y0 = y - (len(lines) - 1) * lh / 2
    style = ' font-style="italic"' if italic else ""
    spans = "".join(
        f'<tspan x="{x:.1f}" y="{y0 + k * lh:.1f}">{_esc(line)}</tspan>' for k, line in enumerate(lines)
    )
    return (f'<text text-anchor="middle" dominant-baseline="central" font-size="{size:g}" '
            f'font-weight="{weight}" fill="{color}"{style}>{spans}</text>')


def _clip(cx: float, cy: float, hw: float, hh: float, px: float, py: float) -> tuple[float, float]:
    """Point where the segment centre -> p leaves the box (half sizes hw, hh)."""
    dx, dy = px - cx, py - cy
    if dx == 0 and dy == 0:
        return cx, cy
    s = min(hw / abs(dx) if dx else math.inf, hh / abs(dy) if dy else math.inf)
    s = min(s, 1.0)
    return cx + dx * s, cy + dy * s


def _inside(o: tuple[float, float, float, float], x: float, y: float) -> bool:
    cx, cy, hw, hh = o
    return abs(x - cx) <= hw and abs(y - cy) <= hh


def _quad(a: tuple[float, float], c: tuple[float, float], b: tuple[float, float], t: float):
    u = 1 - t
    return (u * u * a[0] + 2 * u * t * c[0] + t * t * b[0], u * u * a[1] + 2 * u * t * c[1] + t * t * b[1])


def _curve(a_box: tuple[float, float, float, float], b_box: tuple[float, float, float, float],
           through: tuple[float, float] | None) -> tuple[str, tuple[float, float], tuple[float, float]]:
    """SVG path of an arrow from box a to box b (curved through a point), end point, end tangent."""
    a = (a_box[0], a_box[1])
    b = (b_box[0], b_box[1])
    if through is None:
        c = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
    else:
        c = (2 * through[0] - (a[0] + b[0]) / 2, 2 * through[1] - (a[1] + b[1]) / 2)
    n = 200
    t0, t1 = 0.0, 1.0
    for k in range(n + 1):
        t = k / n
        if not _inside(a_box, *_quad(a, c, b, t)):
            t0 = t
            break
    for k in range(n, -1, -1):
        t = k / n
        if not _inside(b_box, *_quad(a, c, b, t)):
            t1 = t
            break
    if t1 <= t0:
        t0, t1 = 0.0, 1.0
    s, e = _quad(a, c, b, t0), _quad(a, c, b, t1)
    # control point of the sub-curve [t0, t1] (blossom)
    w0 = (1 - t0) * (1 - t1)
    w1 = (1 - t0) * t1 + t0 * (1 - t1)
    w2 = t0 * t1
    cc = (w0 * a[0] + w1 * c[0] + w2 * b[0], w0 * a[1] + w1 * c[1] + w2 * b[1])
    tangent = (e[0] - cc[0], e[1] - cc[1])
    return f"M{s[0]:.1f},{s[1]:.1f} Q{cc[0]:.1f},{cc[1]:.1f} {e[0]:.1f},{e[1]:.1f}", e, tangent


def _defs(uid: str) -> str:
    return (
        "<defs>"
        f'<marker id="{uid}-a" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{ARROW}"/></marker>'
        f'<marker id="{uid}-h" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{HILITE}"/></marker>'
        "</defs>"
    )


def _cloud(x: float, y: float, dim: str) -> str:
    circles = "".join(
        f'<circle cx="{x + dx:.1f}" cy="{y + dy:.1f}" r="{r}" fill="#fff" stroke="{INK}" stroke-width="1"/>'
        for dx, dy, r in ((-6, 1, 5), (0, -3, 6), (6, 1, 5), (0, 3, 5))
    )
    return f'<g class="sd-cloud"{dim}>{circles}</g>'


def _valve(x: float, y: float, vertical: bool, color: str) -> str:
    if vertical:
        d = f"M{x - 8:.1f},{y - 6:.1f} L{x - 8:.1f},{y + 6:.1f} L{x + 8:.1f},{y - 6:.1f} L{x + 8:.1f},{y + 6:.1f} Z"
    else:
        d = f"M{x - 6:.1f},{y - 8:.1f} L{x + 6:.1f},{y - 8:.1f} L{x - 6:.1f},{y + 8:.1f} L{x + 6:.1f},{y + 8:.1f} Z"
    return f'<path d="{d}" fill="#fff" stroke="{color}" stroke-width="1.4"/>'


def _pipe(pts: list[tuple[float, float]], head: bool, color: str) -> str:
    d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in pts)
    out = (f'<path d="{d}" fill="none" stroke="{color}" stroke-width="6" stroke-linejoin="round"/>'
           f'<path d="{d}" fill="none" stroke="#fff" stroke-width="3" stroke-linejoin="round"/>')
    if head and len(pts) >= 2:
        (x0, y0), (x1, y1) = pts[-2], pts[-1]
        ang = math.atan2(y1 - y0, x1 - x0)
        ux, uy = math.cos(ang), math.sin(ang)
        px, py = -uy, ux
        tip = (x1, y1)
        base = (x1 - 11 * ux, y1 - 11 * uy)
        tri = [tip, (base[0] + 8 * px, base[1] + 8 * py), (base[0] - 8 * px, base[1] - 8 * py)]
        out += '<path d="M' + " L".join(f"{x:.1f},{y:.1f}" for x, y in tri) + f' Z" fill="{color}"/>'
    return out


def _box_of(o: SketchObject, kind: str) -> tuple[float, float, float, float]:
    if o.type == "valve":
        return (o.x, o.y, 8.0, 8.0)
    if o.type == "cloud":
        return (o.x, o.y, 12.0, 9.0)
    if kind == "stock" and not o.shadow:
        return (o.x, o.y, o.w + 2, o.h + 2)
    return (o.x, o.y, max(o.w, 10) + 2, max(o.h, 6) + 3)


def _render_view(view: View, model: Any, highlight: Sequence[str] | None, uid: str,
                 title: str | None = None) -> Diagram:
    resolve = _resolver(model)
    loop_nodes, loop_edges = _loop_edges(highlight, resolve)
    active = bool(loop_nodes)
    objs = view.objects
    names: dict[int, str] = {}
    kinds: dict[int, str] = {}
    for oid, o in objs.items():
        if o.type == "variable":
            names[oid], kinds[oid] = resolve(o.name)
    for oid, o in objs.items():
        if o.type == "valve":
            fv = view.valve_flow(oid)
            if fv is not None:
                names[oid], kinds[oid] = names[fv.id], "valve"
    # bounds
    xs: list[float] = []
    ys: list[float] = []
    for o in objs.values():
        if o.type == "comment" and not o.name:
            continue
        xs += [o.x - max(o.w, 10), o.x + max(o.w, 10)]
        ys += [o.y - max(o.h, 8), o.y + max(o.h, 8)]
    for a in view.arrows:
        for px, py in a.points:
            xs.append(px)
            ys.append(py)
    x0, y0 = min(xs) - MARGIN, min(ys) - MARGIN - (22 if title else 0)
    width, height = max(xs) - x0 + MARGIN, max(ys) - y0 + MARGIN

    def dim(on: bool) -> str:
        return "" if (not active or on) else ' opacity="0.3"'

    pipes, arrows, nodes = [], [], []
    for a in view.arrows:
        src, dst = objs.get(a.src), objs.get(a.dst)
        if src is None or dst is None:
            continue
        n_src, n_dst = names.get(a.src, ""), names.get(a.dst, "")
        if a.pipe:
            valve, other = (src, dst) if src.type == "valve" else (dst, src)
            flow = names.get(valve.id, "")
            on_name = names.get(other.id, "")
            on = bool(flow) and ((flow, on_name) in loop_edges or (on_name, flow) in loop_edges)
            color = HILITE if on else INK
            obox = _box_of(other, kinds.get(other.id, ""))
            if len(a.points) > 1:
                mids = [p for p in a.points[:-1]] if src.type == "valve" else list(reversed(a.points[:-1]))
            else:
                mids = []
            start = (valve.x, valve.y)
            towards = mids[-1] if mids else start
            end = _clip(obox[0], obox[1], obox[2], obox[3], *towards)
            pts = [start, *mids, end]
            if src.type != "valve":  # pipe drawn from a stock/cloud into the valve
                pts = list(reversed(pts))
            pipes.append(f'<g class="sd-pipe" data-flow="{_esc(flow)}"{dim(on)}>'
                         f"{_pipe(pts, a.head, color)}</g>")
            continue
        on = (n_src, n_dst) in loop_edges
        sbox = _box_of(src, kinds.get(a.src, ""))
        dbox = _box_of(dst, kinds.get(a.dst, ""))
        through = a.points[0] if (a.points and a.shape == 1) else None
        d, end, tan = _curve(sbox, dbox, through)
        color, mk = (HILITE, "h") if on else (ARROW, "a")
        sw = 2.2 if on else 1.1
        pol = ""
        if a.polarity:
            ln = math.hypot(*tan) or 1.0
            ux, uy = tan[0] / ln, tan[1] / ln
            px, py = end[0] - 12 * ux - 8 * uy, end[1] - 12 * uy + 8 * ux
            pol = (f'<text x="{px:.1f}" y="{py:.1f}" text-anchor="middle" dominant-baseline="central" '
                   f'font-size="12" font-weight="bold" fill="{color}">{_esc(a.polarity)}</text>')
        arrows.append(
            f'<g class="sd-arrow" data-from="{_esc(n_src)}" data-to="{_esc(n_dst)}"{dim(on)}>'
            f'<path d="{d}" fill="none" stroke="{color}" stroke-width="{sw}" '
            f'marker-end="url(#{uid}-{mk})"/>{pol}</g>'
        )
    for oid, o in objs.items():
        name, kind = names.get(oid, o.name), kinds.get(oid, "")
        on = name in loop_nodes
        color = HILITE if on else INK
        if o.type == "cloud":
            nodes.append(_cloud(o.x, o.y, dim(False)))
        elif o.type == "valve":
            vertical = _pipe_vertical(view, oid)
            nodes.append(f'<g class="sd-valve" data-flow="{_esc(name)}"{dim(on)}>'
                         f"{_valve(o.x, o.y, vertical, color)}</g>")
        elif o.type == "variable":
            cls = "sd-shadow" if o.shadow else f"sd-{kind or 'unknown'}"
            dims = _dims_suffix(model, name) if kind else ""
            shown = o.name + dims
            attrs = (f'class="sd-node {cls}" data-name="{_esc(name)}" data-kind="{_esc(kind)}" '
                     + (f'data-dims="{_esc(dims[1:-1])}" ' if dims else "")
                     + f'data-x="{o.x - x0:.1f}" data-y="{o.y - y0:.1f}"')
            if o.shadow:
                nodes.append(f"<g {attrs}{dim(on)}>"
                             + _text(o.x, o.y, _wrap(f"<{shown}>", o.w, o.h), color=MUTED) + "</g>")
            elif kind == "stock" or (not kind and o.box):
                nodes.append(
                    f"<g {attrs}{dim(on)}>"
                    f'<rect x="{o.x - o.w:.1f}" y="{o.y - o.h:.1f}" width="{2 * o.w:.1f}" '
                    f'height="{2 * o.h:.1f}" fill="{STOCK_FILL}" stroke="{color}" '
                    f'stroke-width="{2.4 if on else 1.4}"/>'
                    + _text(o.x, o.y, _wrap(shown, o.w, max(o.h, 16)), color=color,
                            weight="bold" if on else "normal") + "</g>")
            else:
                nodes.append(f"<g {attrs}{dim(on)}>"
                             + _text(o.x, o.y, _wrap(shown, o.w, o.h), color=color,
                                     weight="bold" if on else "normal") + "</g>")
        elif o.type == "comment" and o.name:
            nodes.append(f'<g class="sd-comment"{dim(False)}>'
                         + _text(o.x, o.y, _wrap(o.name, o.w, o.h), size=10, color=MUTED, italic=True)
                         + "</g>")
    head = ""
    if title:
        head = (f'<text x="{x0 + MARGIN:.1f}" y="{y0 + 18:.1f}" font-size="15" font-weight="bold" '
                f'fill="{INK}">{_esc(title)}</text>')
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sd-diagram" role="img" '
        f'viewBox="{x0:.1f} {y0:.1f} {width:.1f} {height:.1f}" width="{width:.0f}" height="{height:.0f}" '
        f'font-family="{FONT}" data-view="{_esc(view.name)}">'
        f"<title>{_esc(view.name)}: stock-flow diagram</title>{_defs(uid)}"
        f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{width:.1f}" height="{height:.1f}" fill="#fff"/>{head}'
        + "".join(pipes) + "".join(arrows) + "".join(nodes) + "</svg>"
    )
    missing = sorted({o.name for o in objs.values() if o.type == "variable" and not o.shadow
                      and not resolve(o.name)[1] and o.name.lower() != "time"})
    note = ("Drawn from the model's own sketch (positions as in the model file)."
            + (f" Not model variables: {', '.join(missing)}." if missing else ""))
    return Diagram(view.name, svg, False, width, height, note)


def _pipe_vertical(view: View, valve_id: int) -> bool:
    v = view.objects[valve_id]
    for a in view.arrows:
        if a.pipe and valve_id in (a.src, a.dst):
            other = view.objects.get(a.dst if a.src == valve_id else a.src)
            if other is not None:
                return abs(other.y - v.y) > abs(other.x - v.x)
    return False


# ----------------------------------------------------------------------------
# Automatic layout (no sketch)
# ----------------------------------------------------------------------------


def _causal_graph(model: Any) -> tuple[dict[str, set[str]], dict[str, str]]:
    """Causal graph by model-file names, and kinds (from the IR, else PySD's dependencies)."""
    table = model.variables
    kinds = dict(zip(table["name"], table["kind"], strict=True))
    keep = {n for n, k in kinds.items() if k not in ("control", "lookup")}
    graph: dict[str, set[str]] = {n: set() for n in keep}
    try:
        from pvsd.embed.js_backend import ir_of
        from pvsd.engine.macros import visible_graph

        ir = ir_of(model)
        by_py = {v.py_name: v.name for v in ir.variables.values()}
        for cause, effects in visible_graph(ir).items():
            c = by_py.get(cause)
            if c in keep:
                graph[c] |= {by_py[e] for e in effects if by_py.get(e) in keep}
        return graph, kinds
    except PvsdError:
        pass
    deps = model._fresh().dependencies  # a translated .py: PySD's dependency record
    real = {py: name for name, py in model._py.items()}
    for py, dep in deps.items():
        effect = real.get(py)
        if effect not in keep or not isinstance(dep, dict):
            continue
        for key in dep:
            c = real.get(key)
            if c is None and key.startswith("_integ_"):
                for sub in (deps.get(key) or {}).get("step", {}) or {}:
                    if real.get(sub) in keep:
                        graph[real[sub]].add(effect)
            elif c in keep and c != effect:
                graph[c].add(effect)
    return graph, kinds


def _auto(model: Any, highlight: Sequence[str] | None, uid: str) -> Diagram:
    import networkx as nx

    graph, kinds = _causal_graph(model)
    resolve = _resolver(model)
    loop_nodes, loop_edges = _loop_edges(highlight, resolve)
    active = bool(loop_nodes)
    g = nx.DiGraph()
    g.add_nodes_from(sorted(graph))
    for c, effects in graph.items():
        for e in effects:
            g.add_edge(c, e)
    n = max(1, g.number_of_nodes())
    if n == 1:
        pos = {next(iter(g.nodes)): (0.0, 0.0)} if g.number_of_nodes() else {}
    else:
        try:
            pos = nx.kamada_kawai_layout(g.to_undirected()) if n <= 150 else nx.spring_layout(g, seed=1)
        except Exception:  # scipy missing or degenerate graph
            pos = nx.spring_layout(g, seed=1)
    size = max(420.0, 95.0 * math.sqrt(n) * 1.6)
    xs = [p[0] for p in pos.values()] or [0.0]
    ys = [p[1] for p in pos.values()] or [0.0]
    sx = (max(xs) - min(xs)) or 1.0
    sy = (max(ys) - min(ys)) or 1.0
    place = {k: (MARGIN + 70 + (p[0] - min(xs)) / sx * size * 1.3, MARGIN + 40 + (p[1] - min(ys)) / sy * size)
             for k, p in pos.items()}
    width, height = size * 1.3 + 2 * (MARGIN + 70), size + 2 * (MARGIN + 40)

    def dim(on: bool) -> str:
        return "" if (not active or on) else ' opacity="0.3"'

    def box(name: str) -> tuple[float, float, float, float]:
        x, y = place[name]
        lines = _wrap(name + _dims_suffix(model, name), 45, 16)
        hw = max(len(s) for s in lines) * 3.1 + 4
        stock = kinds.get(name) == "stock"
        return (x, y, hw + 6 if stock else hw, 7.0 * len(lines) + (8 if stock else 2))

    arrows, nodes = [], []
    for c, e in g.edges:
        a, b = box(c), box(e)
        mid = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
        dx, dy = b[0] - a[0], b[1] - a[1]
        through = (mid[0] - dy * 0.08, mid[1] + dx * 0.08)
        d, _, _ = _curve(a, b, through)
        on = (c, e) in loop_edges
        color, mk = (HILITE, "h") if on else (ARROW, "a")
        arrows.append(f'<g class="sd-arrow" data-from="{_esc(c)}" data-to="{_esc(e)}"{dim(on)}>'
                      f'<path d="{d}" fill="none" stroke="{color}" stroke-width="{2.2 if on else 1}" '
                      f'marker-end="url(#{uid}-{mk})"/></g>')
    for name in g.nodes:
        x, y = place[name]
        kind = kinds.get(name, "")
        on = name in loop_nodes
        color = HILITE if on else INK
        dims = _dims_suffix(model, name)
        lines = _wrap(name + dims, 45, 16)
        attrs = (f'class="sd-node sd-{kind}" data-name="{_esc(name)}" data-kind="{_esc(kind)}" '
                 + (f'data-dims="{_esc(dims[1:-1])}" ' if dims else "")
                 + f'data-x="{x:.1f}" data-y="{y:.1f}"')
        inner = _text(x, y, lines, color=color, weight="bold" if on else "normal")
        if kind == "stock":
            _, _, hw, hh = box(name)
            inner = (f'<rect x="{x - hw:.1f}" y="{y - hh:.1f}" width="{2 * hw:.1f}" height="{2 * hh:.1f}" '
                     f'fill="{STOCK_FILL}" stroke="{color}" stroke-width="1.4"/>' + inner)
        elif kind == "flow":
            _, _, hw, hh = box(name)
            inner = _valve(x, y - hh - 8, False, color) + inner
        elif kind == "constant":
            inner = _text(x, y, lines, color=MUTED if not on else color)
        nodes.append(f"<g {attrs}{dim(on)}>{inner}</g>")
    title = "Causal graph (automatic layout)"
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sd-diagram sd-auto" role="img" '
        f'viewBox="0 0 {width:.1f} {height:.1f}" width="{width:.0f}" height="{height:.0f}" '
        f'font-family="{FONT}"><title>{title}</title>{_defs(uid)}'
        f'<rect width="{width:.1f}" height="{height:.1f}" fill="#fff"/>'
        + "".join(arrows) + "".join(nodes) + "</svg>"
    )
    src = model.path.suffix.lower()
    why = {".py": "a translated PySD .py file keeps no diagram",
           ".mdl": "this .mdl file has no sketch"}.get(src, "pvsd does not read XMILE diagrams")
    note = (f"No stock-flow sketch is available ({why}), so the causal graph was laid out "
            "automatically: stocks are boxes, flows carry a valve, constants are grey; positions "
            "are computed, not the modeller's.")
    return Diagram(title, svg, True, width, height, note)


# ----------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------


def diagrams(model: Any, highlight: Sequence[str] | None = None, uid: str | None = None) -> list[Diagram]:
    """One diagram per view of the model's sketch, or one automatic layout without a sketch.

    Parameters
    ----------
    model
        A :class:`pvsd.Model`.
    highlight
        Variable names of a feedback loop, in loop order: its variables and links
        are drawn in colour and everything else is dimmed.
    uid
        Prefix of the SVG ids (markers); default a new unique one, so several
        diagrams inlined in one HTML page never share an id.
    """
    uid = uid or new_id("sd")
    views = parse_sketch(model.path)
    if not views:
        return [_auto(model, highlight, f"{uid}-0")]
    return [_render_view(v, model, highlight, f"{uid}-{k}") for k, v in enumerate(views)]


def loop_diagram(model: Any, variables: Sequence[str], uid: str | None = None) -> Diagram:
    """The view that shows most of a loop's variables, with the loop highlighted.

    Without a sketch: the automatic layout with the loop highlighted.
    """
    uid = uid or new_id("loop")
    views = parse_sketch(model.path)
    if not views:
        return _auto(model, variables, f"{uid}-0")
    resolve = _resolver(model)
    wanted = {resolve(_variable_of(v))[0] for v in variables}

    def score(view: View) -> tuple[int, int]:
        drawn = [resolve(o.name)[0] for o in view.variables()]
        own = sum(1 for o in view.variables() if not o.shadow and resolve(o.name)[0] in wanted)
        return (len(wanted & set(drawn)), own)

    best = max(views, key=score)
    return _render_view(best, model, variables, f"{uid}-0")


def diagram_svg(model: Any, view: str | None = None, highlight: Sequence[str] | None = None) -> str:
    """A standalone SVG document of the model's diagram.

    Parameters
    ----------
    model
        A :class:`pvsd.Model`.
    view
        Name (or 1-based number) of one view; default: every view, stacked
        vertically under its title.
    highlight
        Variable names of a loop to highlight (see :func:`diagrams`).

    Raises
    ------
    PvsdError
        ``view`` does not name a view of the model.
    """
    views = parse_sketch(model.path)
    if views and view is not None:
        pick = [v for k, v in enumerate(views, 1) if v.name.lower() == view.strip().lower() or str(k) == view]
        if not pick:
            names = ", ".join(repr(v.name) for v in views)
            raise PvsdError(f"{model.path.name} has no view {view!r}; its views are {names} "
                            "(or give the view's number, from 1).")
        views = pick
    uid = new_id("sd")  # an SVG inlined in a page next to others keeps its own marker ids
    if not views:
        parts = [_auto(model, highlight, f"{uid}-0")]
    else:
        parts = [_render_view(v, model, highlight, f"{uid}-{k}", title=v.name if len(views) > 1 else None)
                 for k, v in enumerate(views)]
    if len(parts) == 1:
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + parts[0].svg + "\n"
    width = max(p.width for p in parts)
    y = 0.0
    inner = []
    for p in parts:
        inner.append(p.svg.replace("<svg ", f'<svg x="0" y="{y:.1f}" ', 1))
        y += p.height + 10
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.1f} {y:.1f}" '
            f'width="{width:.0f}" height="{y:.0f}">' + "".join(inner) + "</svg>\n")
