"""The HTML document builder behind every pvsd report, model card and chart page.

This is the bottom of the presentation layers: :mod:`pvsd.embed` (model cards,
diagrams, live simulators) builds on it, and :mod:`pvsd.report` composes both.

Every element id a page gets is unique per figure and per document (a random
token per :class:`Report` and per fragment), so any number of fragments and
report sections can share one page. How a page gets plotly.js is
:mod:`pvsd.plotlyjs`.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from pvsd.io import check_new, replace_dir, write_csv, write_text
from pvsd.plotlyjs import (
    _MISSING_CHECK,
    ASSETS_DIR,
    PLOTLY_JS_FILE,
    PLOTLY_JS_MODES,
    _missing_plotly_html,
    _plotly_js_bundle,
    _plotly_src,
    check_plotly_js_mode,
    plotly_js,
    shared_plotly_js,
    shared_plotly_js_name,
    write_plotly_js,
)
from pvsd.plotlyjs import plotly_js_version as plotly_js_version  # re-exported
from pvsd.provenance import markup_comment

__all__ = [
    "ASSETS_DIR",
    "PLOTLY_JS_FILE",
    "PLOTLY_JS_MODES",
    "Report",
    "check_plotly_js_mode",
    "figure_fragment",
    "new_id",
    "plotly_js",
    "shared_plotly_js",
    "write_page",
    "write_plotly_js",
]

_CSS = """
:root { --ink:#1d2433; --muted:#5b6475; --line:#d9dde5; --accent:#0072B2; --bg:#fbfbfd; }
* { box-sizing: border-box; }
body { margin:0; font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;
       color:var(--ink); background:var(--bg); }
header { background:#10243e; color:#fff; padding:1.6rem 0 1.2rem; }
header .wrap, main, nav .wrap { max-width:1180px; margin:0 auto; padding:0 1.5rem; }
header h1 { margin:0 0 .3rem; font-size:1.75rem; font-weight:650; }
header p { margin:0; color:#c9d6ea; }
nav { background:#fff; border-bottom:1px solid var(--line); position:sticky; top:0; z-index:5; }
nav .wrap { display:flex; flex-wrap:wrap; gap:.2rem 1.2rem; padding-top:.5rem; padding-bottom:.5rem; }
nav a { color:var(--accent); text-decoration:none; font-size:.95rem; }
nav a:hover, nav a:focus { text-decoration:underline; }
main { padding-bottom:3rem; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:1.1rem 1.4rem;
          margin:1.3rem 0; }
h2 { font-size:1.3rem; margin:.2rem 0 .8rem; }
h3 { font-size:1.05rem; margin:1.2rem 0 .5rem; }
p.caption { color:var(--muted); font-size:.92rem; margin:.3rem 0 1rem; }
table.data { border-collapse:collapse; width:100%; font-size:.92rem; margin:.4rem 0 1rem;
             font-variant-numeric: tabular-nums; }
table.data th, table.data td { border-bottom:1px solid var(--line); padding:.35rem .6rem;
             text-align:right; vertical-align:top; }
table.data th { background:#f1f3f7; font-weight:600; }
table.data td.text, table.data th.text { text-align:left; }
.tablewrap { overflow-x:auto; }
/* a wide table scrolls sideways under its first column (the row labels), which stays put */
table.data tr > :first-child { position:sticky; left:0; z-index:1; background:#fff;
             box-shadow: 1px 0 0 var(--line); }
table.data tr > th:first-child { background:#f1f3f7; }
/* with two row labels (variable, year) both stay: the first has a fixed width so the
   second knows where to stick */
table.data .key0 { box-sizing:border-box; width:13em; min-width:13em; max-width:13em;
                   overflow-wrap:anywhere; }
table.data tr > .key1 { position:sticky; left:13em; z-index:1; background:#fff;
             box-shadow: 1px 0 0 var(--line); }
table.data tr > th.key1 { background:#f1f3f7; }
dl.prov { display:grid; grid-template-columns:max-content 1fr; gap:.25rem 1rem; font-size:.9rem; }
dl.prov dt { font-weight:600; color:var(--muted); }
dl.prov dd { margin:0; font-family:ui-monospace,Menlo,Consolas,monospace; word-break:break-all; }
.figure { margin:.5rem 0 1.2rem; }
.notice { border-left:4px solid #D55E00; background:#fff4ec; padding:.6rem .9rem; margin:.8rem 0; }
.pvsd-js-errors { display:none; }
.headline { font-size:1.12rem; border-left:5px solid var(--accent); background:#eef5fb;
            padding:.7rem 1rem; margin:1rem 0 .4rem; }
footer { color:var(--muted); font-size:.85rem; text-align:center; padding:1rem; }
svg { max-width:100%; height:auto; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { font-size:10.5pt; background:#fff; }
  header { background:#fff; color:#000; padding:0 0 .4rem; border-bottom:2px solid #000; }
  header p { color:#333; }
  header .wrap, main, nav .wrap { max-width:none; padding:0; }
  nav, .modebar, .pvsd-live .pl-levers, .pvsd-noprint { display:none !important; }
  section { border:none; border-radius:0; padding:0; margin:.8rem 0; break-inside:auto; }
  h2, h3 { break-after:avoid; }
  .figure, svg, .js-plotly-plot, figure { break-inside:avoid; }
  .figure { max-width:100%; overflow:hidden; }
  .tablewrap { overflow:visible; }
  table.data tr > :first-child, table.data tr > .key1 { position:static; box-shadow:none; }
  table.data .key0 { width:auto; min-width:0; max-width:none; overflow-wrap:normal; }
  table.data { font-size:7.5pt; width:100%; table-layout:auto; }
  table.data th, table.data td { padding:.15rem .3rem; word-break:normal; overflow-wrap:break-word;
                                 min-width:0 !important; font-size:7.5pt !important; }
  td.eq, code.eq { font-size:7pt !important; }
  .sd-figure { overflow:visible !important; border:none !important; break-inside:avoid; }
  .sd-figure svg { width:100% !important; max-width:100% !important; height:auto !important; }
  tr { break-inside:avoid; }
  thead { display:table-header-group; }
  dl.prov { font-size:7.5pt; }
  a { color:inherit; text-decoration:none; }
}
"""

# Plotly draws a chart for the window it is in, and printing does not redraw it: from a wide
# window every chart was cut at the page's right edge, and a chart taller than a page lost its
# bottom panels. Before printing, each is redrawn at the A4 text width (186 mm = 703 px) and
# at most a page tall; after printing it gets its own size back.
_PRINT_FIT = """
<script>
(function () {
  var saved = [];
  window.addEventListener('beforeprint', function () {
    if (typeof Plotly === 'undefined') { return; }
    saved = [];
    document.querySelectorAll('.js-plotly-plot').forEach(function (gd) {
      var l = gd.layout || {};
      saved.push([gd, l.width, l.height]);
      Plotly.relayout(gd, {width: 700, height: Math.min(gd.offsetHeight || 450, 940)});
    });
  });
  window.addEventListener('afterprint', function () {
    saved.forEach(function (s) {
      Plotly.relayout(s[0], {width: s[1] === undefined ? null : s[1],
                             height: s[2] === undefined ? null : s[2]});
    });
    saved = [];
  });
})();
</script>
"""

# Any script error in the page is shown to the reader (and to tests) instead of
# leaving a silently empty chart. A missing plotly.js has its own message (below).
_ERROR_TRAP = """
<script>
window.pvsdErrors = window.pvsdErrors || [];
window.addEventListener('error', function (e) {
  if (window.pvsdChartLibMissing) { return; }  // said once, by the missing-plotly.js note
  window.pvsdErrors.push(String(e.message || e));
  document.querySelectorAll('.pvsd-js-errors').forEach(function (box) {
    box.style.display = 'block';
    box.textContent = 'A chart failed to draw: ' + window.pvsdErrors.join('; ');
  });
});
</script>
"""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "item"


def new_id(name: str) -> str:
    """An element id no other pvsd figure, report or fragment has: ``pvsd-NAME-TOKEN``."""
    return f"pvsd-{_slug(name)}-{secrets.token_hex(4)}"


def figure_fragment(fig: go.Figure, name: str, div_id: str | None = None) -> str:
    """An embeddable ``<div>`` plus ``<script>`` for one figure (needs plotly.js loaded once).

    The div's id is ``div_id`` or a new unique one (:func:`new_id`), so two fragments
    of the same figure kind in one page each draw their own data.
    """
    div_id = div_id or new_id(name)
    return fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config={"responsive": True, "displaylogo": False,
                "toImageButtonOptions": {"format": "svg", "filename": _slug(name)}},
        default_width="100%",
    )


def _number(v: float, digits: int) -> str:
    """A number for people: ``2050`` not ``2.05e+03``; ``0.0123``; exponents only when tiny or huge."""
    if pd.isna(v):
        return ""
    a = abs(v)
    if 10 ** digits <= a < 1e12:
        return f"{v:.0f}"
    return f"{v:.{digits}g}"


def table_html(frame: pd.DataFrame, index: bool = True, digits: int = 4) -> str:
    """An HTML table with numbers right-aligned and text left-aligned."""
    def cell(v: Any, tag: str) -> str:
        if isinstance(v, float):
            text, cls = _number(v, digits), ""
        elif isinstance(v, (int,)) and not isinstance(v, bool):
            text, cls = str(v), ""
        else:
            text, cls = str(v), ' class="text"'
        return f"<{tag}{cls}>{html.escape(text)}</{tag}>"

    idx_names = [n or "" for n in frame.index.names] if index else []
    # two row labels both stay in view when the table scrolls sideways (CSS .key0/.key1)
    key_cls = ([' class="text key0"', ' class="text key1"'] if len(idx_names) == 2
               else [' class="text"'] * len(idx_names))
    head = "".join(f'<th{c}>{html.escape(str(n))}</th>'
                   for c, n in zip(key_cls, idx_names, strict=True))
    head += "".join(cell(c if isinstance(c, str) else str(c), "th") for c in frame.columns)
    rows = []
    for key, row in zip(frame.index, frame.itertuples(index=False), strict=True):
        keys = (key if isinstance(key, tuple) else (key,)) if index else ()
        # an element name may break before its subscripts: "Engagement<wbr>[Government]"
        cells = "".join(f'<td{c}>{html.escape(str(k)).replace("[", "<wbr>[")}</td>'
                        for c, k in zip(key_cls, keys, strict=True))
        cells += "".join(cell(v, "td") for v in row)
        rows.append(f"<tr>{cells}</tr>")
    return (f'<div class="tablewrap"><table class="data"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


@dataclass
class _Figure:
    name: str
    fig: go.Figure
    caption: str
    series: pd.DataFrame | None


@dataclass
class Report:
    """A self-contained HTML report under construction.

    Parameters
    ----------
    title
        Page title.
    subtitle
        One line under the title (model, date ...).
    provenance
        The provenance record shown in the last section and written into every CSV.
    """

    title: str
    subtitle: str = ""
    provenance: Mapping[str, Any] = field(default_factory=dict)
    headline: str = ""
    uid: str = field(default_factory=lambda: secrets.token_hex(4))
    _blocks: list[tuple[str, str, list[str | _Figure]]] = field(default_factory=list)
    _tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def section(self, title: str) -> Report:
        """Start a new section; later ``add_*`` calls go into it."""
        self._blocks.append((title, _slug(title), []))
        return self

    def _current(self) -> list[str | _Figure]:
        if not self._blocks:
            self.section("Results")
        return self._blocks[-1][2]

    def add_html(self, raw: str) -> Report:
        """Append trusted HTML."""
        self._current().append(raw)
        return self

    def add_text(self, text: str) -> Report:
        """Append paragraphs of plain text (blank lines separate paragraphs)."""
        for para in re.split(r"\n\s*\n", text.strip()):
            self._current().append(f"<p>{html.escape(para)}</p>")
        return self

    def add_notice(self, text: str) -> Report:
        """Append a highlighted note (warnings, caveats)."""
        self._current().append(f'<div class="notice">{html.escape(text)}</div>')
        return self

    def add_heading(self, text: str) -> Report:
        """Append a sub-heading."""
        self._current().append(f"<h3>{html.escape(text)}</h3>")
        return self

    def add_table(self, frame: pd.DataFrame, caption: str = "", name: str | None = None,
                  index: bool = True, digits: int = 4) -> Report:
        """Append a table; with ``name`` it is also written as ``<name>.csv``."""
        self._current().append(table_html(frame, index=index, digits=digits))
        if caption:
            self._current().append(f'<p class="caption">{html.escape(caption)}</p>')
        if name:
            self._tables[name] = frame
        return self

    def add_csv(self, name: str, frame: pd.DataFrame) -> Report:
        """Write ``frame`` as ``<name>.csv`` with the report (without showing it on the page)."""
        self._tables[name] = frame
        return self

    def add_figure(self, fig: go.Figure, name: str, caption: str = "",
                   series: pd.DataFrame | None = None) -> Report:
        """Append a plotly figure.

        Parameters
        ----------
        fig
            The figure.
        name
            File-safe identifier (fragment file name and ``figure`` column in the CSV).
        caption
            Text under the figure.
        series
            The plotted data in long form for the CSV of plotted series (default:
            extracted from the figure's traces).
        """
        self._current().append(_Figure(_slug(name), fig, caption, series))
        return self

    def figures(self) -> list[_Figure]:
        return [b for _, _, items in self._blocks for b in items if isinstance(b, _Figure)]

    def series(self) -> pd.DataFrame:
        """Every plotted series in long form: figure, trace, x, y.

        ``x`` is the time or category of a point and ``y`` its value, also for horizontal bars
        (drawn with the categories on the vertical axis), so a column never mixes the two.
        """
        frames = []
        for f in self.figures():
            if f.series is not None:
                s = f.series.copy()
                s.insert(0, "figure", f.name)
                frames.append(s)
                continue
            for tr in f.fig.data:
                x, y = getattr(tr, "x", None), getattr(tr, "y", None)
                if x is None or y is None:
                    continue
                if getattr(tr, "orientation", None) == "h":
                    x, y = y, x
                panel = ""
                if getattr(tr, "xaxis", None):
                    panel = str(tr.xaxis)
                frames.append(pd.DataFrame({
                    "figure": f.name, "trace": tr.name or "", "panel": panel,
                    "x": list(x), "y": list(y),
                }))
        cols = ["figure", "trace", "panel", "x", "y"]
        if not frames:
            return pd.DataFrame(columns=cols)
        out = pd.concat(frames, ignore_index=True)
        return out[[c for c in cols if c in out.columns] + [c for c in out.columns if c not in cols]]

    def _provenance_html(self) -> str:
        items = []
        for k, v in self.provenance.items():
            text = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
            items.append(f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(text))}</dd>")
        return f'<dl class="prov">{"".join(items)}</dl>'

    def element_id(self, name: str) -> str:
        """The id of element ``name`` in this document: ``pvsd-UID-NAME`` (unique across documents)."""
        return f"pvsd-{self.uid}-{_slug(name)}"

    def body_html(self) -> tuple[list[str], list[str]]:
        """Navigation links and section HTML (no page head, no plotly.js)."""
        nav, body = [], []
        seen: dict[str, int] = {}
        k = 0
        for title, slug, items in self._blocks:
            n = seen[slug] = seen.get(slug, 0) + 1
            sid = self.element_id(slug if n == 1 else f"{slug}-{n}")
            nav.append(f'<a href="#{sid}">{html.escape(title)}</a>')
            parts = []
            for it in items:
                if isinstance(it, _Figure):
                    k += 1
                    cap = f'<p class="caption">{html.escape(it.caption)}</p>' if it.caption else ""
                    frag = figure_fragment(it.fig, it.name, self.element_id(f"fig{k}-{it.name}"))
                    parts.append(f'<div class="figure">{frag}{cap}</div>')
                else:
                    parts.append(it)
            body.append(f'<section id="{sid}" class="pvsd-section pvsd-{slug}"><h2>{html.escape(title)}</h2>'
                        f'{"".join(parts)}</section>')
        if self.provenance:
            pid = self.element_id("provenance")
            nav.append(f'<a href="#{pid}">Provenance</a>')
            body.append(f'<section id="{pid}" class="pvsd-section pvsd-provenance"><h2>Provenance</h2>'
                        '<p class="caption">Everything needed to reproduce this report.</p>'
                        f"{self._provenance_html()}</section>")
        return nav, body

    def section_html(self) -> str:
        """The report's sections as one embeddable block (load plotly.js once in the page)."""
        _, body = self.body_html()
        head = f'<p class="headline">{html.escape(self.headline)}</p>' if self.headline else ""
        return f'<div class="pvsd-report" id="{self.element_id("report")}">{head}{"".join(body)}</div>'

    def render(self, plotly_js: str = "inline", plotly_src: str | None = None) -> str:
        """The whole page as one string.

        Parameters
        ----------
        plotly_js
            How the page loads plotly.js (:data:`PLOTLY_JS_MODES`): ``"inline"``
            (inside the page: self-contained, about 4.7 MB), ``"shared"``
            (``../pvsd-assets/plotly-VERSION.min.js``: the copy shared by the report
            folders of one parent folder, see :func:`shared_plotly_js`), ``"folder"``
            (``plotly.min.js`` beside the page, see :func:`write_plotly_js`) or
            ``"cdn"`` (cdn.plot.ly; needs the internet to view). A page without
            plotly figures loads no plotly.js at all.
        plotly_src
            The script's address relative to the page, where it is not the mode's default
            (e.g. ``pvsd-assets/...`` for a page directly in the parent folder).

        If plotly.js does not load (a shared copy left behind, no internet for
        ``cdn``), the page says so at the top, naming where it expected the file
        and how to fix it, and every chart says it was not drawn.
        """
        mode = check_plotly_js_mode(plotly_js, where="render(plotly_js=...)")
        nav, body = self.body_html()
        version = self.provenance.get("pvsd_version", "")
        needs = bool(self.figures())
        script = missing = check = ""
        if needs and mode == "inline":
            script = f'<script type="text/javascript">{_plotly_js_bundle()}</script>'
        elif needs:
            src = plotly_src or _plotly_src(mode, single_file=False)
            box = self.element_id("plotly-missing")
            script = (f'<script src="{html.escape(src)}" charset="utf-8"></script>'
                      "<script>window.pvsdChartLibMissing = typeof Plotly === 'undefined';</script>")
            missing = _missing_plotly_html(mode, src, box)
            check = _MISSING_CHECK % box
        head = f'<p class="headline">{html.escape(self.headline)}</p>' if self.headline else ""
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="generator" content="pvsd {html.escape(str(version))}">'
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style>{_ERROR_TRAP}"
            f"{script}</head><body>"
            f'<header><div class="wrap"><h1>{html.escape(self.title)}</h1>'
            f"<p>{html.escape(self.subtitle)}</p></div></header>"
            f'<nav aria-label="Sections"><div class="wrap">{"".join(nav)}</div></nav>'
            f'<main>{missing}<div id="{self.element_id("js-errors")}" class="notice pvsd-js-errors" '
            f'role="alert"></div>{head}{"".join(body)}</main>'
            f"<footer>Made with pvsd {html.escape(str(version))}.</footer>{check}"
            f"{_PRINT_FIT if needs else ''}</body></html>\n"
        )

    def write(self, folder: str | Path, force: bool = False, fragments: bool = False,
              filename: str = "report.html", formats: Sequence[str] = (),
              plotly_js: str | None = None, staged_for: str | Path | None = None) -> Path:
        """Write the report folder atomically and return the HTML file's path.

        The folder holds ``report.html``, ``series.csv`` (every plotted series, long
        format), one tidy CSV per named table, ``provenance.json`` (the provenance of
        every file, so the CSVs open cleanly in a spreadsheet), with ``fragments`` a
        ``figures/`` folder with one embeddable HTML fragment per figure, and with
        ``formats`` (png, svg, pdf) every figure as a static image in ``figures/``.

        Parameters
        ----------
        plotly_js
            How the page loads plotly.js (:data:`PLOTLY_JS_MODES`); default
            ``"shared"``: one copy in ``pvsd-assets/`` of the folder's parent, written
            once and shared by every report folder there (each extra report costs
            kilobytes, not 4.7 MB). ``"folder"``: ``plotly.min.js`` inside this
            folder (the folder alone is complete); ``"inline"``: inside the page;
            ``"cdn"``: from cdn.plot.ly.
        staged_for
            Where ``folder`` will end up, when the caller writes it into a staging
            place first and moves it there itself (the shared copy goes beside that).
        """
        from pvsd.figures import check_formats, save_figures

        fmts = check_formats(formats)
        mode = check_plotly_js_mode(plotly_js, where="write(plotly_js=...)")
        final = Path(folder)
        home = Path(staged_for) if staged_for is not None else final
        check_new(final, force)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
        try:
            needs = bool(self.figures())
            write_text(tmp / filename, self.render(plotly_js=mode))
            if needs and mode == "folder":
                write_plotly_js(tmp)
            write_csv(tmp / "series.csv", self.series(), index=False)
            for name, frame in self._tables.items():
                plain = isinstance(frame.index, pd.RangeIndex) and frame.index.name is None
                write_csv(tmp / f"{name}.csv", frame, index=not plain)  # no unnamed 0,1,2 column
            write_text(tmp / "provenance.json", json.dumps(
                {"files": sorted(["series.csv", *(f"{n}.csv" for n in self._tables), filename]),
                 **{k: v for k, v in self.provenance.items()}}, indent=2, sort_keys=False, default=str) + "\n")
            if fragments or fmts:
                (tmp / "figures").mkdir()
            if fragments:
                figdir = tmp / "figures"
                for f in self.figures():
                    write_text(
                        figdir / f"{f.name}.html",
                        f"<!-- pvsd figure '{f.name}'. Load plotly.js once in your page, e.g. "
                        f'<script src="{ASSETS_DIR}/{shared_plotly_js_name()}"></script> (the copy '
                        "pvsd writes beside report folders with --plotly-js shared), or use "
                        "plotly.offline.get_plotlyjs(). Its element id is unique, so any "
                        "number of pvsd fragments can share one page. -->\n"
                        + markup_comment({**self.provenance, "figure": f.name}) + "\n"
                        + figure_fragment(f.fig, f.name) + "\n",
                    )
            if fmts:
                save_figures({f.name: f.fig for f in self.figures()}, fmts, tmp / "figures")
            if needs and mode == "shared":  # before the folder appears, so it never lacks it
                shared_plotly_js(home.resolve().parent)
            replace_dir(tmp, final, force)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final / filename


def write_page(path: str | Path, report: Report, plotly_js: str | None = None,
               force: bool = False) -> Path:
    """Write ``report`` as one HTML file ``path`` (not a folder).

    ``plotly_js`` as in :meth:`Report.render`, default ``"inline"`` (a single file is
    self-contained). ``"shared"`` puts the copy into ``pvsd-assets/`` beside the file,
    the same copy the report folders of that folder share; ``"folder"`` writes
    ``plotly.min.js`` beside the file.
    """
    mode = check_plotly_js_mode(plotly_js, default="inline", where="plotly_js")
    target = Path(path)
    check_new(target, force)
    text = report.render(plotly_js=mode, plotly_src=_plotly_src(mode, single_file=True))
    if report.figures():
        if mode == "shared":
            shared_plotly_js(target.resolve().parent)
        elif mode == "folder":
            write_plotly_js(target.resolve().parent)
    return write_text(target, text, force=force)


def kv_table(pairs: Sequence[tuple[str, Any]]) -> str:
    """A two-column definition table."""
    rows = "".join(
        f'<tr><th class="text">{html.escape(str(k))}</th><td class="text">{html.escape(str(v))}</td></tr>'
        for k, v in pairs
    )
    return f'<div class="tablewrap"><table class="data"><tbody>{rows}</tbody></table></div>'
