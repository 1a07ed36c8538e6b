"""The Dash app of the what-if explorer: layout and thin callbacks around :class:`Explorer`."""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pvsd.errors import PvsdError
from pvsd.explorer.core import Explorer
from pvsd.explorer.levers import Lever

if TYPE_CHECKING:
    import dash

    from pvsd.model import Model
    from pvsd.scenarios import Scenario, ScenarioSet

__all__ = ["ExplorerServer", "create_app", "serve", "start_server"]

_CSS = """
:root { --ink:#1d2433; --muted:#5b6475; --line:#d9dde5; --accent:#0072B2; --bg:#f5f6f9; --err:#b3261e; }
* { box-sizing: border-box; }
html, body { margin:0; height:100%; }
body { font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif; color:var(--ink);
       background:var(--bg); }
.pvsd-header { background:#10243e; color:#fff; padding:.55rem 1.1rem; display:flex; align-items:baseline;
               gap:1rem; height:44px; }
.pvsd-header h1 { font-size:1.15rem; margin:0; font-weight:650; }
.pvsd-header p { margin:0; color:#c9d6ea; font-size:.85rem; flex:1; min-width:0; white-space:nowrap;
                 overflow:hidden; text-overflow:ellipsis; }
.pvsd-body { display:flex; height:calc(100vh - 44px); min-height:520px; }
.pvsd-controls { width:350px; min-width:300px; overflow-y:auto; background:#fff; border-right:1px solid var(--line);
                 padding:.6rem .9rem 2rem; }
.pvsd-controls h2 { font-size:1rem; margin:.3rem 0 .5rem; }
.pvsd-main { flex:1; overflow-y:auto; padding:.6rem 1rem 1.5rem; min-width:0; }
.lever { border-bottom:1px solid var(--line); padding:.45rem 0 .35rem; }
.lever-label { font-weight:600; display:block; }
.lever-units { color:var(--muted); font-weight:400; }
.lever-help { color:var(--muted); font-size:.8rem; margin:.1rem 0 .2rem; }
.lever-help summary { cursor:pointer; }
.lever-default { color:var(--muted); font-size:.78rem; }
.lever details.step { font-size:.85rem; margin-top:.15rem; }
.lever details.step summary { cursor:pointer; color:var(--accent); }
.step-body { padding:.25rem 0 .2rem .4rem; border-left:3px solid #e3e8f0; margin:.2rem 0 .2rem .2rem; }
.step-body .sub { font-size:.82rem; color:var(--muted); margin-top:.2rem; display:block; }
details.assumptions > summary { font-weight:600; cursor:pointer; margin:.8rem 0 .3rem; font-size:1rem; }
details.group > summary { cursor:pointer; color:var(--accent); margin:.35rem 0 .1rem; }
.toolbar { background:#fff; border:1px solid var(--line); border-radius:6px; padding:.35rem .8rem; }
.toolbar .row { display:flex; flex-wrap:wrap; gap:.3rem 1.2rem; align-items:center; padding:.15rem 0; }
.toolbar .save { display:flex; gap:.4rem; align-items:center; }
.toolbar .row > * { flex:0 1 auto; }
.toolbar label, button { white-space:nowrap; }
.toolbar .save .dash-input-container { flex:0 0 11rem; width:11rem; }
.toolbar input[type=text] { padding:.25rem .45rem; border:1px solid #aab3c2; border-radius:4px; width:100%; }
.toolbar .title { font-weight:600; margin-right:.3rem; }
.toolbar label { margin-right:.8rem; }
.pvsd-message { color:var(--err); background:#fdecea; border-left:4px solid var(--err); padding:.4rem .7rem;
                margin:.5rem 0 0; }
.pvsd-message:empty { display:none; }
.pvsd-status { color:var(--muted); font-size:.8rem; margin:.3rem .1rem; min-height:1.1em; }
.graph-box { background:#fff; border:1px solid var(--line); border-radius:6px; margin-top:.4rem; }
button { font:inherit; padding:.3rem .8rem; border-radius:4px; border:1px solid var(--accent); background:var(--accent);
         color:#fff; cursor:pointer; }
button.secondary { background:#fff; color:var(--accent); }
button:focus-visible, input:focus-visible, summary:focus-visible { outline:3px solid #E69F00; outline-offset:2px; }
.save-note { color:var(--muted); font-size:.8rem; }
#save-message p { margin:.3rem 0 0; }
.ok { color:#1e6b3a; }
.bad { color:var(--err); }
@media (max-width: 900px) { .pvsd-body { flex-direction:column; height:auto; }
  .pvsd-controls { width:auto; max-height:45vh; } }
"""

# Dash puts its scripts and styles where {%scripts%} etc. stand; nothing is fetched from a CDN.
_INDEX = """<!DOCTYPE html>
<html lang="en">
<head>{%metas%}<title>{%title%}</title>{%favicon%}{%css%}<style>""" + _CSS + """</style></head>
<body>{%app_entry%}<footer>{%config%}{%scripts%}{%renderer%}</footer>
<script>
// Name every slider handle after its visible label, for screen readers.
(function () {
  function label() {
    document.querySelectorAll('[data-label]').forEach(function (box) {
      box.querySelectorAll('[role="slider"]').forEach(function (h) {
        if (h.getAttribute('aria-label') !== box.dataset.label) { h.setAttribute('aria-label', box.dataset.label); }
      });
      box.querySelectorAll('input').forEach(function (inp) {
        if (!inp.getAttribute('aria-label')) { inp.setAttribute('aria-label', box.dataset.label + ' (type a value)'); }
      });
    });
  }
  new MutationObserver(label).observe(document.documentElement, {childList: true, subtree: true});
})();
</script>
</body></html>"""


def _nice_marks(lo: float, hi: float, lever: Lever | None = None) -> dict[float, str]:
    if lever is not None:
        return {lever.min: lever.fmt(lever.min), lever.max: lever.fmt(lever.max)}
    return {lo: f"{lo:g}", hi: f"{hi:g}"}


def _year_marks(t0: float, t1: float) -> dict[float, str]:
    span = t1 - t0
    every = 10 if span > 30 else 5 if span > 10 else 1
    first = t0 if t0 % every == 0 else t0 + (every - t0 % every)
    marks: dict[float, str] = {}
    y = first
    while y <= t1 + 1e-9:
        marks[float(y)] = f"{y:g}"
        y += every
    return marks


def _summary(text: str, limit: int = 110) -> str:
    """The first informative sentence of a comment (skipping a bare parenthetical), shortened."""
    sentences = [s.strip() for s in text.replace("\n", " ").split(". ") if s.strip()]
    for s in sentences:
        if len(s) >= 25 and not (s.startswith("(") and s.rstrip(".").endswith(")")):
            s = s.rstrip(".") + "."
            return s if len(s) <= limit else s[: limit - 1].rsplit(" ", 1)[0] + "…"
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _lever_card(lv: Lever, t0: float, t1: float, step_changes: bool, when: str = "year", tu: str = "",
                file_value: float | None = None) -> Any:
    from dash import dcc, html

    slider_marks: dict[float, Any] = _nice_marks(lv.min, lv.max, lv)
    slider_marks[lv.default] = {"label": "▲", "style": {"color": "#0072B2", "fontWeight": "700"}}
    children: list[Any] = [
        html.Span([lv.name, " ", html.Span(f"({lv.units})", className="lever-units")] if lv.units else lv.name,
                  className="lever-label", id={"type": "label", "name": lv.name}),
    ]
    helptext = lv.help
    if helptext:
        first = _summary(helptext)
        if len(first) < len(helptext) - 2:
            children.append(html.Details([html.Summary(first), helptext], className="lever-help"))
        else:
            children.append(html.P(helptext, className="lever-help"))
    children.append(html.Div(
        dcc.Slider(id={"type": "lever", "name": lv.name}, min=lv.min, max=lv.max, step=lv.step,
                   value=lv.default, marks=slider_marks, updatemode="mouseup",
                   tooltip={"placement": "top", "always_visible": False}),
        **{"data-label": lv.label},
    ))
    src = {"spec": "range from the uncertainty spec", "default": "no declared range"}.get(lv.range_source, "")
    start = (f"▲ --set value {lv.fmt(lv.default)} (model file: {lv.fmt(file_value)})" if file_value is not None
             else f"▲ model value {lv.fmt(lv.default)}")
    children.append(html.Span(start + (f"; {src}" if src else ""), className="lever-default"))
    if step_changes:
        children.append(html.Details([
            html.Summary(f"Change it in a given {when}…",
                         title=f"Make {lv.name} jump to a new value in a chosen {when}"),
            html.Div([
                dcc.Checklist(id={"type": "step-on", "name": lv.name},
                              options=[{"label": f" switch to a new value in the {when} below", "value": "on"}],
                              value=[]),
                html.Span(f"{when.capitalize()} of the change" + (f" ({tu})" if tu and when != "year" else ""),
                          className="sub"),
                html.Div(dcc.Slider(id={"type": "step-year", "name": lv.name}, min=t0, max=t1,
                                    step=1 if t1 - t0 >= 5 else (t1 - t0) / 20,
                                    value=float(round(t0 + (t1 - t0) / 2)), marks=_year_marks(t0, t1),
                                    updatemode="mouseup"),
                         **{"data-label": f"{when.capitalize()} of the change of {lv.name}"}),
                html.Span(f"New value from then ({lv.units})" if lv.units else "New value from then",
                          className="sub"),
                html.Div(dcc.Slider(id={"type": "step-to", "name": lv.name}, min=lv.min, max=lv.max,
                                    step=lv.step, value=lv.default, marks=_nice_marks(lv.min, lv.max, lv),
                                    updatemode="mouseup"),
                         **{"data-label": f"New value of {lv.name}"}),
            ], className="step-body"),
        ], className="step"))
    return html.Div(children, className="lever")


def _graph_style(nrows: int, ncols: int) -> dict[str, str]:
    """The charts fill the window's height, but no taller than about 4:5 per chart (plotly's
    row spacing is a share of the height, so a tall window opened wide gaps between rows) and
    no shorter than about 190 px per row (the page scrolls instead)."""
    per_row = 0.8 / max(ncols, 1)  # row height per width of the chart area
    # the chart area is the window less the lever panel (350 px) and paddings (about 40 px)
    tallest = f"calc({nrows * per_row:.3f} * (100vw - 390px) + 100px)"
    # and no squeezing either: five rows of charts in a 768 px window were 110 px each
    return {"height": "calc(100vh - 205px)", "maxHeight": tallest, "minHeight": f"{max(470, 100 + 190 * nrows)}px"}


def _layout(ex: Explorer) -> Any:
    from dash import dcc, html

    m = ex.model
    t0, t1 = m.initial_time, m.final_time
    policy = [lv for lv in ex.levers if lv.policy]
    rest = [lv for lv in ex.levers if not lv.policy]
    controls: list[Any] = [html.H2("Policy levers" if rest else "Levers")]
    controls += [_lever_card(lv, t0, t1, True, ex.time_word, ex.time_units, ex.model_values.get(lv.name))
                 for lv in policy]
    if rest:
        groups: dict[str, list[Lever]] = {}
        for lv in rest:
            groups.setdefault(lv.group or "Other", []).append(lv)
        inner = []
        for g, items in sorted(groups.items()):
            inner.append(html.Details([html.Summary(f"{g} ({len(items)})"),
                                       *[_lever_card(lv, t0, t1, False, file_value=ex.model_values.get(lv.name))
                                         for lv in items]], className="group"))
        controls.append(html.Details([html.Summary(f"Model assumptions ({len(rest)})"), *inner],
                                     className="assumptions"))
    reset = "Reset every slider to its starting value (--set or the model's)" if ex.sets else \
        "Reset every slider to the model's value"
    controls.append(html.P(html.Button(reset, id="reset",
                                       className="secondary", n_clicks=0), style={"marginTop": "1rem"}))

    options = ex.scenario_options()
    unc_opts = [{"label": " Show uncertainty (Monte Carlo bands)", "value": "on",
                 "disabled": not ex.uncertainty_available}]
    desc = m.description
    short = (desc[:160] + "…") if len(desc) > 160 else desc
    first = ex.figure(ex.parse({}), [o["value"] for o in options])
    main = [
        html.Div([
            html.Div([
                html.Span("Compare with:", className="title"),
                dcc.Checklist(id="overlay", options=options, value=[o["value"] for o in options], inline=True)
                if options else html.Span("no scenarios loaded (pvsd explore --scenarios FILE)",
                                          className="save-note"),
            ], className="row"),
            html.Div([
                dcc.Checklist(id="uncertainty", options=unc_opts, value=[], inline=True),
                html.Span("(needs an uncertainty spec)", className="save-note", title=ex.uncertainty_note)
                if not ex.uncertainty_available else None,
                html.Span([
                    html.Label("Scenario name", htmlFor="scenario-name"),
                    dcc.Input(id="scenario-name", type="text", placeholder="e.g. Reform first", maxLength=80),
                    html.Button("Save as scenario", id="save", n_clicks=0,
                                title=f"Appends the current setting to {ex.save_to}"),
                ], className="save"),
                html.Button("Export report (HTML)", id="export", n_clicks=0, className="secondary",
                            title="Download the charts and settings as one self-contained HTML file"),
                dcc.Download(id="download"),
            ], className="row"),
        ], className="toolbar"),
        html.Div(id="message", className="pvsd-message", role="alert", **{"aria-live": "assertive"}),
        html.Div(id="save-message", role="status", **{"aria-live": "polite"}),
        html.Div(id="status", className="pvsd-status", role="status", **{"aria-live": "polite"}),
        html.Div(dcc.Graph(id="dashboard", figure=first, config={"displaylogo": False, "responsive": True},
                           style=_graph_style(*ex._grid())),
                 className="graph-box"),
        html.P(f"Saved scenarios are appended to {ex.save_to}; compare them later with "
               f"`pvsd scenarios {m.path.name} {ex.save_to.name}`.", className="save-note"),
    ]
    if not options:  # keep the callback's Input present
        main.append(dcc.Checklist(id="overlay", options=[], value=[], style={"display": "none"}))
    return html.Div([
        html.Header([html.H1(f"What-if explorer: {m.name}"), html.P(short, title=desc)], className="pvsd-header"),
        html.Div([html.Aside(controls, className="pvsd-controls", **{"aria-label": "Levers"}),
                  html.Main(main, className="pvsd-main")], className="pvsd-body"),
    ])


def _by_name(entries: Any) -> dict[str, Any]:
    """``{name: value}`` from Dash's list of pattern-matched inputs (malformed entries skipped)."""
    out: dict[str, Any] = {}
    if not isinstance(entries, list):
        return out
    for e in entries:
        if isinstance(e, Mapping) and isinstance(e.get("id"), Mapping) and isinstance(e["id"].get("name"), str):
            out[e["id"]["name"]] = e.get("value")
    return out


def controls_from_context(groups: Sequence[Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Lever values and step changes from Dash's ``inputs_list``/``states_list`` groups.

    ``groups`` are the four pattern-matched groups, in order: lever values, step
    switches, step years, step values.
    """
    values = _by_name(groups[0]) if len(groups) > 0 else {}
    on = _by_name(groups[1]) if len(groups) > 1 else {}
    years = _by_name(groups[2]) if len(groups) > 2 else {}
    tos = _by_name(groups[3]) if len(groups) > 3 else {}
    steps = {n: {"on": isinstance(v, list) and "on" in v, "year": years.get(n), "to": tos.get(n)}
             for n, v in on.items()}
    return values, steps


def create_app(
    model: Model | str | os.PathLike[str] | None = None,
    scenarios: ScenarioSet | Sequence[Scenario] | str | os.PathLike[str] | None = None,
    uncertainty_spec: Any = None,
    *,
    outputs: Sequence[str] | None = None,
    save_to: str | os.PathLike[str] | None = None,
    band_runs: int | None = None,
    sets: Mapping[str, float] | None = None,
) -> dash.Dash:
    """Build the what-if explorer for a model.

    Parameters
    ----------
    model
        A :class:`~pvsd.Model`, a model file or bundled model name (default: the
        bundled reference model, with its bundled scenarios unless ``scenarios`` is given).
    scenarios
        Scenarios to overlay (a scenario file, a ScenarioSet or a list of Scenario).
    uncertainty_spec
        Sensitivity spec (file, SensitivitySpec or ParameterSpace) for the Monte
        Carlo bands; None looks for ``<model>_sensitivity.toml`` next to the model;
        False disables the bands.
    outputs
        Dashboard variables (default: capability, service quality, trust,
        expectations, satisfaction gap and public value when the model has them).
    save_to
        Scenario file that "Save as scenario" appends to.
    band_runs
        Monte Carlo runs for the bands (default: the spec's ``[bands] n``, else 200).
    sets
        Constants held at other values (``--set``; see :class:`Explorer`).

    Returns
    -------
    dash.Dash
        The app; ``app.explorer`` is its :class:`Explorer` and ``app.server`` the
        Flask server. Assets are served locally (no CDN, works offline).
    """
    try:
        import dash
        from dash import ALL, Input, Output, State, ctx, no_update
    except ImportError:  # pragma: no cover - depends on the environment
        raise PvsdError("The explorer needs Dash: pip install dash") from None
    import pvsd
    from pvsd.model import Model
    from pvsd.resources import REFERENCE_MODEL, bundled_model_path, bundled_scenarios

    if model is None:
        model = REFERENCE_MODEL
    if scenarios is None and isinstance(model, str) and not Path(model).exists():
        bundled = bundled_model_path(model)
        found = bundled_scenarios(bundled.stem) if bundled is not None else None
        if found is not None and found.stem == bundled.stem:  # type: ignore[union-attr]
            scenarios = found  # a bundled model comes with its bundled scenarios
    if not isinstance(model, Model):
        model = pvsd.load(model)
    ex = Explorer(model, scenarios, uncertainty_spec, outputs=outputs, save_to=save_to, band_runs=band_runs,
                  sets=sets)

    app = dash.Dash(
        __name__,
        title=f"pvsd explore: {model.name}",
        serve_locally=True,
        assets_folder=str(Path(__file__).with_name("assets")),
        include_assets_files=False,
        update_title=None,
        suppress_callback_exceptions=False,
    )
    app.index_string = _INDEX
    app.layout = _layout(ex)
    app.explorer = ex  # type: ignore[attr-defined]

    lever_in = Input({"type": "lever", "name": ALL}, "value")
    step_ins = [Input({"type": k, "name": ALL}, "value") for k in ("step-on", "step-year", "step-to")]
    lever_st = State({"type": "lever", "name": ALL}, "value")
    step_sts = [State({"type": k, "name": ALL}, "value") for k in ("step-on", "step-year", "step-to")]

    @app.callback(
        Output("dashboard", "figure"), Output("message", "children"), Output("status", "children"),
        lever_in, *step_ins, Input("overlay", "value"), Input("uncertainty", "value"),
    )
    def _update(*_args: Any) -> tuple[Any, str, str]:
        try:
            values, steps = controls_from_context(ctx.inputs_list[:4])
            show = _args[4] if isinstance(_args[4], list) else []
            unc = isinstance(_args[5], list) and "on" in _args[5]
            up = ex.update(values, steps, show, unc)
        except Exception as exc:  # pragma: no cover - Explorer.update never raises
            return no_update, f"Not applied: {type(exc).__name__}: {exc}", ""
        return (up.figure if up.figure is not None else no_update), up.message, up.status

    @app.callback(
        Output("save-message", "children"), Output("overlay", "options"), Output("overlay", "value"),
        Input("save", "n_clicks"), State("scenario-name", "value"), State("overlay", "value"),
        lever_st, *step_sts,
        prevent_initial_call=True,
    )
    def _save(_n: Any, name: Any, shown: Any, *_rest: Any) -> tuple[Any, Any, Any]:
        from dash import html

        values, steps = controls_from_context(ctx.states_list[2:6])
        ok, msg = ex.save(name, values, steps)
        if not ok:
            return html.P(msg, className="bad", role="alert"), no_update, no_update
        shown = [s for s in shown if isinstance(s, str)] if isinstance(shown, list) else []
        new = ex.scenario_key(name)
        return html.P(msg, className="ok"), ex.scenario_options(), [*shown, new]

    @app.callback(
        Output("download", "data"), Output("save-message", "children", allow_duplicate=True),
        Input("export", "n_clicks"), State("overlay", "value"), State("uncertainty", "value"),
        lever_st, *step_sts,
        prevent_initial_call=True,
    )
    def _export(_n: Any, shown: Any, unc: Any, *_rest: Any) -> tuple[Any, Any]:
        from dash import html

        values, steps = controls_from_context(ctx.states_list[2:6])
        show = [s for s in shown if isinstance(s, str)] if isinstance(shown, list) else []
        text, msg = ex.export(values, steps, show, isinstance(unc, list) and "on" in unc)
        if text is None:
            return no_update, html.P(msg, className="bad", role="alert")
        return ({"content": text, "filename": f"{model.name}-what-if.html", "type": "text/html"},
                html.P("Report exported (self-contained HTML, opens without a network).", className="ok"))

    @app.callback(
        Output({"type": "lever", "name": ALL}, "value"), Output({"type": "step-on", "name": ALL}, "value"),
        Input("reset", "n_clicks"), State({"type": "lever", "name": ALL}, "id"),
        State({"type": "step-on", "name": ALL}, "id"),
        prevent_initial_call=True,
    )
    def _reset(_n: Any, lever_ids: list[dict[str, str]], step_ids: list[dict[str, str]]) -> tuple[list, list]:
        defaults = ex.defaults()
        return [defaults.get(i["name"]) for i in lever_ids], [[] for _ in step_ids]

    return app


# ---------------------------------------------------------------------- serving
class ExplorerServer:
    """A running explorer: a Werkzeug server in a background thread.

    Attributes
    ----------
    url
        Address of the page, e.g. ``http://127.0.0.1:8050/``.
    app
        The Dash app.
    """

    def __init__(self, app: dash.Dash, host: str = "127.0.0.1", port: int = 8050) -> None:
        import logging

        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        try:
            self._server = make_server(host, port, app.server, threaded=True)
        except OSError as exc:
            raise PvsdError(
                f"Cannot listen on {host}:{port} ({exc.strerror or exc}); the port is probably in use. "
                "Choose another with --port N (or --port 0 for any free port)."
            ) from None
        self.app = app
        self.host = host
        self.port = int(self._server.server_port)
        self.url = f"http://{host}:{self.port}/"
        self._thread: threading.Thread | None = None

    def start(self) -> ExplorerServer:
        """Serve in a daemon thread and return at once."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="pvsd-explorer", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted."""
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ExplorerServer:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start_server(app: dash.Dash, host: str = "127.0.0.1", port: int = 0) -> ExplorerServer:
    """Start ``app`` in a background thread (port 0: any free port); returns the running server."""
    return ExplorerServer(app, host, port).start()


def free_port(host: str = "127.0.0.1") -> int:
    """A currently free TCP port on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def serve(
    model: Model | str | os.PathLike[str] | None = None,
    scenarios: ScenarioSet | Sequence[Scenario] | str | os.PathLike[str] | None = None,
    uncertainty_spec: Any = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8050,
    open_browser: bool = True,
    save_to: str | os.PathLike[str] | None = None,
    band_runs: int | None = None,
    sets: Mapping[str, float] | None = None,
) -> None:
    """Start the explorer and serve it until Ctrl+C.

    Parameters
    ----------
    model, scenarios, uncertainty_spec, save_to, band_runs, sets
        As for :func:`create_app`.
    host
        Interface to listen on (default: loopback only).
    port
        TCP port (0: any free port).
    open_browser
        Open the page in the default web browser.
    """
    app = create_app(model, scenarios, uncertainty_spec, save_to=save_to, band_runs=band_runs, sets=sets)
    srv = ExplorerServer(app, host, port)
    ex: Explorer = app.explorer  # type: ignore[attr-defined]
    print(f"pvsd explore: {ex.model.name} at {srv.url}  (Ctrl+C to stop)")
    print(f"  saving scenarios to {ex.save_to}")
    sys.stdout.flush()
    if open_browser:
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(srv.url,)).start()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        print("pvsd explore: stopped")
    finally:
        srv._server.server_close()
