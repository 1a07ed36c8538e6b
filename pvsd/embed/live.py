"""A live simulator inside one static HTML file (or a fragment to paste into a page).

The model is compiled to JavaScript (:mod:`pvsd.embed.js_backend`); the page
holds the compiled model, sliders for its levers (:mod:`pvsd.embed.levers`),
optional scenario presets, and small hand-written SVG charts (no plotly, no
library, no network). Moving a slider re-simulates the model in the reader's
browser and redraws the charts at once; the model's own baseline stays drawn
as a grey dashed line for reference.
"""

from __future__ import annotations

import hashlib
import html
import json
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pvsd.errors import ParameterError, PvsdError, ScenarioError, UnsupportedModelError

__all__ = ["LIVE_CSS", "live_fragment", "live_html", "write_live"]

MAX_CHARTS = 12

LIVE_CSS = """
.pvsd-live { --pl-ink:#1d2433; --pl-muted:#5b6475; --pl-line:#d9dde5; --pl-accent:#0072B2;
  font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif; color:var(--pl-ink);
  border:1px solid var(--pl-line); border-radius:8px; background:#fff; padding:1rem 1.1rem; margin:1rem 0; }
.pvsd-live * { box-sizing:border-box; }
.pvsd-live .pl-title { font-weight:650; font-size:1.1rem; margin:0 0 .2rem; }
.pvsd-live .pl-help { color:var(--pl-muted); font-size:.9rem; margin:0 0 .8rem; }
.pvsd-live .pl-body { display:grid; grid-template-columns:minmax(250px, 330px) 1fr; gap:1.2rem; }
@media (max-width: 820px) { .pvsd-live .pl-body { grid-template-columns:1fr; } }
.pvsd-live .pl-controls { border-right:1px solid var(--pl-line); padding-right:1rem; }
.pvsd-live .pl-lever { margin:0 0 .75rem; }
.pvsd-live .pl-lever label { display:flex; flex-wrap:wrap; justify-content:space-between; gap:0 .5rem;
  font-size:.88rem; }
.pvsd-live .pl-lever label span.v { font-variant-numeric:tabular-nums; font-weight:600; white-space:nowrap; }
.pvsd-live .pl-lever input[type=range] { width:100%; margin:.15rem 0 0; accent-color:var(--pl-accent); }
.pvsd-live .pl-lever .pl-range { display:flex; justify-content:space-between; color:var(--pl-muted);
  font-size:.75rem; }
.pvsd-live .pl-lever.pl-timefn label span.v { color:#D55E00; }
.pvsd-live details { margin:.4rem 0 .8rem; }
.pvsd-live summary { cursor:pointer; color:var(--pl-accent); font-size:.9rem; margin-bottom:.5rem; }
.pvsd-live select, .pvsd-live button { font:inherit; font-size:.88rem; padding:.2rem .4rem; }
.pvsd-live .pl-row { display:flex; gap:.5rem; align-items:center; margin:0 0 .9rem; flex-wrap:wrap; }
.pvsd-live .pl-charts { display:grid; grid-template-columns:repeat(auto-fill, minmax(290px, 1fr)); gap:.8rem; }
.pvsd-live .pl-chart { border:1px solid var(--pl-line); border-radius:6px; padding:.3rem .4rem .1rem; }
.pvsd-live .pl-chart h4 { margin:.1rem .2rem 0; font-size:.88rem; font-weight:600; }
.pvsd-live .pl-chart h4 small { color:var(--pl-muted); font-weight:normal; }
.pvsd-live .pl-chart svg { width:100%; height:auto; display:block; }
.pvsd-live .pl-legend { display:flex; gap:1rem; font-size:.82rem; color:var(--pl-muted); margin:.2rem 0 .7rem; }
.pvsd-live .pl-legend i { display:inline-block; width:22px; height:0; vertical-align:middle; margin-right:.3rem;
  border-top:2.5px solid var(--pl-accent); }
.pvsd-live .pl-legend i.base { border-top:2px dashed #8a93a3; }
.pvsd-live .pl-foot { color:var(--pl-muted); font-size:.78rem; margin-top:.8rem; word-break:break-all; }
.pvsd-live .pl-error { display:none; border-left:4px solid #D55E00; background:#fff4ec; padding:.5rem .8rem; }
"""

# The page's own script (charts, sliders, scenario presets). ``M`` is the compiled model.
_APP = r"""
(function () {
"use strict";
var ROOT = document.getElementById(%(id)s);
var CFG = %(cfg)s;
var M = %(model)s;
var W = 360, H = 210, PL = 46, PR = 24, PT = 10, PB = 26;
var NS = "http://www.w3.org/2000/svg";
function fmt(v) {
  if (v !== v) return "NaN";
  var a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return String(parseFloat(v.toPrecision(4)));
}
function ticks(lo, hi, n) {
  var span = hi - lo, step = Math.pow(10, Math.floor(Math.log10(span / n)));
  var err = span / n / step;
  if (err >= 7.5) step *= 10; else if (err >= 3.5) step *= 5; else if (err >= 1.5) step *= 2;
  var out = [], t = Math.ceil(lo / step) * step;
  for (; t <= hi + step * 1e-9; t += step) out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return out;
}
function el(name, attrs, parent) {
  var e = document.createElementNS(NS, name);
  for (var k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}
function params() {
  var P = {};
  CFG.levers.forEach(function (lv) {
    if (lv.timefn) P[lv.py] = lv.timefn;
    else if (lv.value !== lv.default) P[lv.py] = lv.value;
  });
  (CFG.fixed || []).forEach(function (f) { P[f.py] = f.value; });
  return P;
}
function simulate(P) {
  var py = [];
  CFG.outputs.forEach(function (o) { if (py.indexOf(o.py) < 0) py.push(o.py); });
  return M.simulate(P, {outputs: py});
}
function series(res, o) {
  // an element of an arrayed variable: its place in the (nested) array at each time
  var v = res.values[o.py];
  if (o.index === undefined) return v;
  return v.map(function (a) { return Array.isArray(a) ? a.flat(Infinity)[o.index] : a; });
}
var charts = [];
function buildCharts() {
  var box = ROOT.querySelector(".pl-charts");
  CFG.outputs.forEach(function (o) {
    var div = document.createElement("div");
    div.className = "pl-chart";
    var h = document.createElement("h4");
    h.textContent = o.name + " ";
    if (o.units) { var s = document.createElement("small"); s.textContent = "(" + o.units + ")"; h.appendChild(s); }
    div.appendChild(h);
    var svg = el("svg", {viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": o.name});
    var axes = el("g", {"class": "pl-axes"}, svg);
    var base = el("path", {"class": "pl-base", fill: "none", stroke: "#8a93a3", "stroke-width": "1.6",
                           "stroke-dasharray": "5 4"}, svg);
    var cur = el("path", {"class": "pl-current", fill: "none", stroke: "#0072B2", "stroke-width": "2.4"}, svg);
    var hover = el("g", {"class": "pl-hover", visibility: "hidden"}, svg);
    el("line", {y1: PT, y2: H - PB, stroke: "#bbb"}, hover);
    var dot = el("circle", {r: 3.5, fill: "#0072B2"}, hover);
    var lab = el("text", {y: PT + 10, "font-size": 11, fill: "#1d2433"}, hover);
    div.appendChild(svg);
    box.appendChild(div);
    var c = {o: o, svg: svg, axes: axes, base: base, cur: cur, hover: hover, dot: dot, lab: lab};
    svg.addEventListener("mousemove", function (ev) { showHover(c, ev); });
    svg.addEventListener("mouseleave", function () { hover.setAttribute("visibility", "hidden"); });
    charts.push(c);
  });
}
function scale(c, t, lo, hi) {
  var t0 = t[0], t1 = t[t.length - 1];
  if (t1 === t0) t1 = t0 + 1;
  if (!(hi > lo)) {
    var m = isFinite(lo) ? lo : 0, r = (Math.abs(m) || 1) * 0.05;
    lo = m - r; hi = m + r;
  }
  var pad = (hi - lo) * 0.05;
  lo -= pad; hi += pad;
  c.sx = function (x) { return PL + (x - t0) / (t1 - t0) * (W - PL - PR); };
  c.sy = function (y) { return H - PB - (y - lo) / (hi - lo) * (H - PT - PB); };
  c.lo = lo; c.hi = hi; c.t0 = t0; c.t1 = t1;
}
function drawAxes(c, t) {
  while (c.axes.firstChild) c.axes.removeChild(c.axes.firstChild);
  ticks(c.lo, c.hi, 4).forEach(function (y) {
    var py = c.sy(y);
    el("line", {x1: PL, x2: W - PR, y1: py, y2: py, stroke: "#eceff4"}, c.axes);
    var tx = el("text", {x: PL - 5, y: py + 3.5, "text-anchor": "end", "font-size": 10, fill: "#5b6475"}, c.axes);
    tx.textContent = fmt(y);
  });
  ticks(c.t0, c.t1, 5).forEach(function (x) {
    var px = c.sx(x);
    el("line", {x1: px, x2: px, y1: H - PB, y2: H - PB + 4, stroke: "#8a93a3"}, c.axes);
    var tx = el("text", {x: px, y: H - PB + 15, "text-anchor": "middle", "font-size": 10, fill: "#5b6475"}, c.axes);
    tx.textContent = fmt(x);
  });
  el("line", {x1: PL, x2: W - PR, y1: H - PB, y2: H - PB, stroke: "#8a93a3"}, c.axes);
}
function pathOf(c, t, ys) {
  var d = "", pen = false;
  for (var i = 0; i < t.length; i++) {
    var y = ys[i];
    if (!isFinite(y)) { pen = false; continue; }
    d += (pen ? "L" : "M") + c.sx(t[i]).toFixed(2) + "," + c.sy(y).toFixed(2);
    pen = true;
  }
  return d;
}
function showHover(c, ev) {
  if (!c.t) return;
  var r = c.svg.getBoundingClientRect();
  var x = (ev.clientX - r.left) / r.width * W;
  var tt = c.t0 + (x - PL) / (W - PL - PR) * (c.t1 - c.t0), best = 0;
  for (var i = 1; i < c.t.length; i++) if (Math.abs(c.t[i] - tt) < Math.abs(c.t[best] - tt)) best = i;
  var px = c.sx(c.t[best]), y = c.y[best];
  c.hover.setAttribute("visibility", "visible");
  c.hover.firstChild.setAttribute("x1", px); c.hover.firstChild.setAttribute("x2", px);
  c.dot.setAttribute("cx", px); c.dot.setAttribute("cy", isFinite(y) ? c.sy(y) : -10);
  c.lab.textContent = fmt(c.t[best]) + ": " + fmt(y) + "  (baseline " + fmt(c.b[best]) + ")";
  var right = px > W * 0.6;
  c.lab.setAttribute("x", right ? px - 6 : px + 6);
  c.lab.setAttribute("text-anchor", right ? "end" : "start");
}
var BASE = null;
function render() {
  var res = simulate(params());
  var t = res.time;
  charts.forEach(function (c) {
    var ys = series(res, c.o), bs = series(BASE, c.o);
    var lo = Infinity, hi = -Infinity;
    ys.concat(bs).forEach(function (v) { if (isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; } });
    scale(c, t, lo, hi);
    drawAxes(c, t);
    c.base.setAttribute("d", pathOf(c, BASE.time, bs));
    c.cur.setAttribute("d", pathOf(c, t, ys));
    c.t = t; c.y = ys; c.b = bs;
  });
  ROOT.setAttribute("data-runs", String(1 + Number(ROOT.getAttribute("data-runs") || 0)));
}
var pending = false;
function schedule() {
  if (pending) return;
  pending = true;
  (window.requestAnimationFrame || setTimeout)(function () { pending = false; render(); });
}
function showValue(lv) {
  lv.out.textContent = lv.timefn ? "time series (" + lv.timefnLabel + ")"
    : fmt(lv.value) + (lv.units ? " " + lv.units : "");
  lv.row.classList.toggle("pl-timefn", !!lv.timefn);
}
function buildLevers() {
  var main = ROOT.querySelector(".pl-levers"), more = ROOT.querySelector(".pl-more");
  CFG.levers.forEach(function (lv, k) {
    var row = document.createElement("div");
    row.className = "pl-lever";
    var id = ROOT.id + "-l" + k;
    var label = document.createElement("label");
    label.setAttribute("for", id);
    var nm = document.createElement("span"); nm.textContent = lv.name; nm.title = lv.comment || "";
    var out = document.createElement("span"); out.className = "v";
    label.appendChild(nm); label.appendChild(out);
    var inp = document.createElement("input");
    inp.type = "range"; inp.id = id; inp.min = lv.lo; inp.max = lv.hi; inp.step = lv.step;
    inp.value = lv.default; inp.setAttribute("data-name", lv.name);
    var rng = document.createElement("div"); rng.className = "pl-range";
    var a = document.createElement("span"); a.textContent = fmt(lv.lo);
    var b = document.createElement("span"); b.textContent = (lv.set ? "--set: " : "model: ") + fmt(lv.default);
    var c = document.createElement("span"); c.textContent = fmt(lv.hi);
    rng.appendChild(a); rng.appendChild(b); rng.appendChild(c);
    row.appendChild(label); row.appendChild(inp); row.appendChild(rng);
    lv.value = lv.default; lv.timefn = null; lv.inp = inp; lv.out = out; lv.row = row;
    inp.addEventListener("input", function () {
      lv.value = parseFloat(inp.value); lv.timefn = null; showValue(lv); schedule();
    });
    showValue(lv);
    (lv.primary || !more ? main : more).appendChild(row);
  });
}
function applyScenario(name) {
  var sc = null;
  (CFG.scenarios || []).forEach(function (s) { if (s.name === name) sc = s; });
  CFG.levers.forEach(function (lv) {
    lv.value = lv.default; lv.timefn = null;
    if (sc && Object.prototype.hasOwnProperty.call(sc.settings, lv.py)) {
      var v = sc.settings[lv.py];
      if (typeof v === "number") lv.value = v;
      else { lv.timefn = v; lv.timefnLabel = sc.describe[lv.py] || "scenario"; }
    }
    lv.inp.value = lv.value;
    showValue(lv);
  });
  CFG.fixed = sc ? sc.fixed : [];
  schedule();
}
try {
  buildLevers();
  buildCharts();
  BASE = simulate({});
  var sel = ROOT.querySelector(".pl-scenario");
  if (sel) sel.addEventListener("change", function () { applyScenario(sel.value); });
  ROOT.querySelector(".pl-reset").addEventListener("click", function () {
    if (sel) sel.value = ""; applyScenario("");
  });
  render();
  ROOT.setAttribute("data-ready", "1");
} catch (err) {
  var box = ROOT.querySelector(".pl-error");
  box.style.display = "block";
  box.textContent = "The simulator failed to start: " + err;
  throw err;
}
})();
"""


#: Elements of one arrayed variable charted by default (one panel each).
MAX_ELEMENT_CHARTS = 4


def _default_charts(model: Any) -> tuple[list[str], list[str]]:
    """Element-level outputs charted by default (the stocks, else the default outputs; at most
    ``MAX_ELEMENT_CHARTS`` elements of an arrayed one), and a note per variable cut short."""
    outs, notes = [], []
    for name in model.stocks or model.default_outputs():
        elems = model.elements(name)
        if len(elems) > MAX_ELEMENT_CHARTS:
            notes.append(f"{name}: {MAX_ELEMENT_CHARTS} of its {len(elems)} elements are charted (the "
                         f"first); chart others with --outputs, e.g. \"{elems[-1]}\".")
            elems = elems[:MAX_ELEMENT_CHARTS]
        outs.extend(elems)
    if len(outs) > MAX_CHARTS:
        notes.append(f"{len(outs)} outputs; the first {MAX_CHARTS} are charted.")
        outs = outs[:MAX_CHARTS]
    return outs, notes


def _chart_config(model: Any, label: str, ir: Any) -> dict[str, Any]:
    """One chart: the compiled model's variable and, for an element, its flat index.

    The index is computed in the model's dims order and read from the compiled JavaScript,
    which lays the array out in the IR's order; the two are checked to agree (``ir``, the IR the
    page is compiled from) so that
    a disagreement stops the page instead of charting another element under this label.
    """
    from pvsd.arrays import split_label

    base, elems = split_label(label)
    py = model._py[base]
    cfg: dict[str, Any] = {"name": label, "py": py, "units": model.units.get(base, "")}
    if elems is not None:
        d = model._dims[base]
        v = ir.variables.get(py)
        laid = None if v is None else (tuple(v.dims), tuple(tuple(ir.subscripts[x]) for x in v.dims))
        if laid != (tuple(d.dims), tuple(d.coords)):
            raise UnsupportedModelError(
                f"{model.path.name}: {base!r} is laid out as {laid} in the compiled model but as "
                f"{(tuple(d.dims), tuple(d.coords))} in pvsd's model, so its element {label!r} "
                "cannot be charted reliably. This is a bug in pvsd; chart the whole variable "
                "with `pvsd run` meanwhile."
            )
        cfg["index"] = int(np.ravel_multi_index(d.position(elems), d.shape))
    return cfg


def _uid(model: Any, extra: str) -> str:
    h = hashlib.sha256((model.sha256 + extra).encode()).hexdigest()[:6]
    # plus a random part: two copies of the same simulator in one page keep separate ids
    return f"pvsd-live-{h}-{secrets.token_hex(3)}"


def _scenario_config(model: Any, scenarios: Any, lever_py: set[str]) -> list[dict[str, Any]]:
    from pvsd.timefunc import PiecewiseLinear

    out = []
    for sc in scenarios:
        merged = model.check_params(None, sc)
        settings: dict[str, Any] = {}
        fixed: list[dict[str, Any]] = []
        describe = sc.describe() if hasattr(sc, "describe") else {}
        desc_py: dict[str, str] = {}
        for name, value in merged.items():
            kind = model.kind(name)
            py = model._py[name]
            if kind == "lookup":
                raise ScenarioError(
                    f"Scenario {sc.name!r} replaces the lookup {name!r}; the live simulator supports numbers "
                    "and time series (Step/Ramp/Table) on constants only. Drop that setting or the scenario.")
            if isinstance(value, PiecewiseLinear):
                x, y = value.arrays()
                val: Any = {"x": [float(v) for v in x], "y": [float(v) for v in y]}
            else:
                val = float(value)
            for k, v in describe.items():
                if model.resolve(k) == name:
                    desc_py[py] = str(v)
            if py in lever_py:
                settings[py] = val
            else:
                fixed.append({"py": py, "value": val})
        out.append({"name": sc.name, "label": getattr(sc, "label", sc.name), "settings": settings,
                    "fixed": fixed, "describe": desc_py, "description": getattr(sc, "description", "") or ""})
    return out


def _checked_sets(model: Any, sets: Mapping[str, float] | None) -> dict[str, float]:
    from pvsd.overrides import check_sets

    return check_sets(model, sets or {}, where="--set")


def _sets_text(sets: Mapping[str, float]) -> str:
    return "--set " + ", ".join(f"{k}={v:g}" for k, v in sets.items())


def _js_values(model: Any, sets: Mapping[str, float]) -> dict[str, Any]:
    """Python name -> value for the compiled model (an element joins its array's other
    elements at the model's values, as in Model.run)."""
    import numpy as np

    from pvsd.overrides import fix_constants

    if not sets:
        return {}
    merged = fix_constants(model, sets).check_params(None)
    return {model._py[k]: (np.asarray(v, float).tolist() if np.ndim(v) else float(v)) for k, v in merged.items()}


def _levers_at(lv: list[Any], sets: Mapping[str, float]) -> list[Any]:
    """Sliders of set constants start at the set value, which must lie in the slider's range."""
    import dataclasses

    out = []
    for x in lv:
        if x.name in sets:
            v = sets[x.name]
            if not x.lo <= v <= x.hi:
                raise ParameterError(
                    f"--set {x.name!r}={v:g}: {x.name!r} is also a slider, whose range is [{x.lo:g}, {x.hi:g}]"
                    f"{'' if x.declared else ' (0 to twice the model value, since the model declares none)'}; "
                    "the slider starts at the set value, so it must lie in that range. Choose a value in it, "
                    "declare a wider [min,max] range in the model file, or leave it out of the sliders (--levers).")
            x = dataclasses.replace(x, default=float(v))
        out.append(x)
    return out


def _json_for_script(value: Any) -> str:
    """JSON safe inside a ``<script>`` element."""
    return (json.dumps(value, allow_nan=False).replace("</", "<\\/").replace("<!--", "<\\!--")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def live_fragment(
    model: Any,
    scenarios: Any = None,
    outputs: Sequence[str] | None = None,
    lever_names: Sequence[str] | None = None,
    title: str | None = None,
    uid: str | None = None,
    sets: Mapping[str, float] | None = None,
) -> str:
    """The live simulator as a ``<div>`` plus ``<style>`` and ``<script>`` (needs nothing else).

    Parameters
    ----------
    model
        A :class:`pvsd.Model` inside the JavaScript subset.
    scenarios
        A :class:`~pvsd.scenarios.ScenarioSet` (or list of scenarios) offered as presets.
    outputs
        Variables charted (default: the stocks, at most 12).
    lever_names
        Constants offered as sliders (default: see :func:`pvsd.embed.levers.levers`).
    title
        Heading of the simulator.
    uid
        HTML id of the container (default: derived from the model and settings).
    sets
        Constants held at other values than the model file's (``--set``): the compiled
        model's value, so the baseline and every preset use it (on top of a scenario's
        own setting of the name, as ``--set`` does in every command); a slider of such
        a constant starts at the value, which must lie in the slider's range.

    Raises
    ------
    UnsupportedModelError
        The model is outside the JavaScript subset (the message names the construct).
    ParameterError
        A ``sets`` name is unknown, or its value is outside the declared range or the
        slider's range.
    """
    from pvsd import __version__
    from pvsd.embed.js_backend import compile_js, ir_of, with_values
    from pvsd.embed.levers import levers

    sets = _checked_sets(model, sets)
    ir = ir_of(model)
    js = with_values(compile_js(ir), _js_values(model, sets))
    lv = _levers_at(levers(model, lever_names), sets)
    if scenarios is not None and sets:
        from pvsd.overrides import scenario_with_sets

        scenarios = [scenario_with_sets(model, sc, sets) for sc in scenarios]
    if outputs:
        outs = [e for o in model.resolve_outputs(list(outputs)) for e in model.elements(o)]
        bad = [o for o in outs if model.kind(o) in ("lookup", "data")]
        if bad:
            raise ParameterError(f"{bad[0]!r} is a {model.kind(bad[0])} and cannot be charted.")
        trimmed: list[str] = []
    else:
        outs, trimmed = _default_charts(model)
    if not outs:
        raise PvsdError(f"{model.path.name} has no stock, flow or auxiliary to chart; pass outputs.")
    levers_cfg = [{"name": x.name, "py": x.py_name, "default": x.default, "lo": x.lo, "hi": x.hi,
                   "step": x.step, "units": x.units, "comment": x.comment[:400], "primary": x.primary,
                   "set": x.name in sets}
                  for x in lv]
    scen_cfg = _scenario_config(model, scenarios, {x.py_name for x in lv}) if scenarios is not None else []
    cfg = {"levers": levers_cfg, "scenarios": scen_cfg, "fixed": [],
           "outputs": [_chart_config(model, o, ir) for o in outs], "notes": trimmed}
    cid = uid or _uid(model, json.dumps([levers_cfg, [o for o in outs], len(scen_cfg), sets], sort_keys=True))
    n_primary = sum(1 for x in lv if x.primary)
    more = len(lv) - n_primary
    derived = any(not x.declared for x in lv)
    title = title or f"Try the model: {model.name}"
    help_ = ("Move a slider: the model re-simulates in your browser at once (no server). "
             "Blue: your settings; grey dashed: the model's baseline.")
    if sets:
        help_ += f" Baseline with {_sets_text(sets)} (the model file's values replaced)."
    if derived:
        help_ += " The model declares no ranges, so sliders span 0 to twice each model value."
    scen_html = ""
    if scen_cfg:
        opts = "".join(f'<option value="{html.escape(s["name"])}">{html.escape(str(s["label"]))}</option>'
                       for s in scen_cfg)
        scen_html = (f'<label>Scenario <select class="pl-scenario"><option value="">baseline '
                     f"(model's own settings)</option>{opts}</select></label>")
    more_html = (f"<details><summary>{more} more parameters with a declared range</summary>"
                 '<div class="pl-more"></div></details>') if more and n_primary else ""
    reset = "Reset to starting values (--set)" if sets else "Reset to model values"
    foot = (f"Model {html.escape(model.path.name)} · SHA-256 {model.sha256} · compiled to JavaScript by "
            f"pvsd {html.escape(__version__)} from the model's equations; the browser's results match "
            "pvsd's Python runs (to a relative 1e-9).")
    if sets:
        foot += f" Run with {html.escape(_sets_text(sets))}."
    for note in cfg["notes"]:
        foot += " " + html.escape(note)
    app = _APP % {"id": json.dumps(cid), "cfg": _json_for_script(cfg), "model": js.source.replace("</", "<\\/")}
    return (
        f'<div class="pvsd-live" id="{cid}" data-model-sha256="{model.sha256}"'
        + (f" data-set='{html.escape(json.dumps(sets), quote=True)}'" if sets else "") + ">"
        f"<style>{LIVE_CSS}</style>"
        f'<div class="pl-title">{html.escape(title)}</div><p class="pl-help">{html.escape(help_)}</p>'
        '<div class="pl-error" role="alert"></div>'
        '<div class="pl-body"><div class="pl-controls">'
        f'<div class="pl-row">{scen_html}<button type="button" class="pl-reset">{reset}</button></div>'
        f'<div class="pl-levers"></div>{more_html}</div>'
        '<div><div class="pl-legend"><span><i></i>your settings</span><span><i class="base"></i>baseline</span>'
        '</div><div class="pl-charts"></div></div></div>'
        f'<div class="pl-foot">{foot}</div>'
        f"<script>{app}</script></div>"
    )


def live_html(
    model: Any,
    scenarios: Any = None,
    outputs: Sequence[str] | None = None,
    lever_names: Sequence[str] | None = None,
    title: str | None = None,
    sets: Mapping[str, float] | None = None,
) -> str:
    """A complete, self-contained HTML page holding the live simulator (see :func:`live_fragment`)."""
    from pvsd.provenance import provenance

    frag = live_fragment(model, scenarios, outputs, lever_names, title, sets=sets)
    sets = _checked_sets(model, sets)
    extra = {"set": sets} if sets else {}
    prov = provenance(model.path, model.sha256, params=sets or None, kind="live simulator",
                      scenarios=[s.name for s in scenarios] if scenarios is not None else None, **extra)
    rows = "".join(f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(json.dumps(v) if not isinstance(v, str) else v)}"
                   "</dd>" for k, v in prov.items())
    desc = model.description.replace("\\ ", " ")
    desc_html = f'<p class="desc">{html.escape(desc)}</p>' if desc else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="pvsd {html.escape(str(prov["pvsd_version"]))}">'
        f"<title>{html.escape(model.name)}: live simulator</title>"
        "<style>body{margin:0;background:#fbfbfd;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,"
        "Arial,sans-serif;color:#1d2433} main{max-width:1280px;margin:0 auto;padding:1rem 1.5rem 2rem}"
        "h1{font-size:1.5rem;margin:.6rem 0 .3rem} p.desc{color:#3b4352;font-size:.95rem}"
        "details.prov dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;font-size:.85rem}"
        "details.prov dt{font-weight:600;color:#5b6475} details.prov dd{margin:0;font-family:ui-monospace,"
        "Menlo,Consolas,monospace;word-break:break-all}</style></head><body><main>"
        f"<h1>{html.escape(model.name)}</h1>{desc_html}{frag}"
        f'<details class="prov"><summary>Provenance</summary><dl>{rows}</dl></details>'
        "</main></body></html>\n"
    )


def write_live(model: Any, out: str | Path, scenarios: Any = None, outputs: Sequence[str] | None = None,
               lever_names: Sequence[str] | None = None, fragment: bool = False, force: bool = False,
               sets: Mapping[str, float] | None = None) -> Path:
    """Write the live simulator (page or fragment) atomically; refuse to overwrite without ``force``.

    ``sets``: constants held at other values (``--set``; see :func:`live_fragment`).
    """
    from pvsd.io import check_new, write_text

    check_new(out, force)
    text = (live_fragment(model, scenarios, outputs, lever_names, sets=sets) + "\n") if fragment else \
        live_html(model, scenarios, outputs, lever_names, sets=sets)
    return write_text(out, text, force=force)

