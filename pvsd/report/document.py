"""The HTML document builder behind every pvsd report."""

from __future__ import annotations

import html
import json
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from pvsd.io import check_new, replace_dir, write_csv, write_text

__all__ = ["Report", "figure_fragment", "plotly_js"]

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
dl.prov { display:grid; grid-template-columns:max-content 1fr; gap:.25rem 1rem; font-size:.9rem; }
dl.prov dt { font-weight:600; color:var(--muted); }
dl.prov dd { margin:0; font-family:ui-monospace,Menlo,Consolas,monospace; word-break:break-all; }
.figure { margin:.5rem 0 1.2rem; }
.notice { border-left:4px solid #D55E00; background:#fff4ec; padding:.6rem .9rem; margin:.8rem 0; }
#pvsd-js-errors { display:none; }
footer { color:var(--muted); font-size:.85rem; text-align:center; padding:1rem; }
"""

# Any script error in the page is shown to the reader (and to tests) instead of
# leaving a silently empty chart.
_ERROR_TRAP = """
<script>
window.pvsdErrors = [];
window.addEventListener('error', function (e) {
  window.pvsdErrors.push(String(e.message || e));
  var box = document.getElementById('pvsd-js-errors');
  if (box) { box.style.display = 'block'; box.textContent = 'A chart failed to draw: ' +
    window.pvsdErrors.join('; '); }
});
</script>
"""


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """The plotly.js bundle that ships with the plotly package (no network needed)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "item"


def figure_fragment(fig: go.Figure, div_id: str) -> str:
    """An embeddable ``<div>`` plus ``<script>`` for one figure (needs plotly.js loaded once)."""
    return fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config={"responsive": True, "displaylogo": False,
                "toImageButtonOptions": {"format": "svg", "filename": div_id}},
        default_width="100%",
    )


def table_html(frame: pd.DataFrame, index: bool = True, digits: int = 4) -> str:
    """An HTML table with numbers right-aligned and text left-aligned."""
    def cell(v: Any, tag: str) -> str:
        if isinstance(v, float):
            text, cls = (f"{v:.{digits}g}" if pd.notna(v) else ""), ""
        elif isinstance(v, (int,)) and not isinstance(v, bool):
            text, cls = str(v), ""
        else:
            text, cls = str(v), ' class="text"'
        return f"<{tag}{cls}>{html.escape(text)}</{tag}>"

    idx_names = [n or "" for n in frame.index.names] if index else []
    head = "".join(f'<th class="text">{html.escape(str(n))}</th>' for n in idx_names)
    head += "".join(cell(c if isinstance(c, str) else str(c), "th") for c in frame.columns)
    rows = []
    for key, row in zip(frame.index, frame.itertuples(index=False), strict=True):
        keys = (key if isinstance(key, tuple) else (key,)) if index else ()
        cells = "".join(f'<td class="text">{html.escape(str(k))}</td>' for k in keys)
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
        """Every plotted series in long form: figure, trace, x, y."""
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

    def render(self) -> str:
        """The whole page as one string: plotly.js embedded once, no network needed."""
        nav, body = [], []
        for title, slug, items in self._blocks:
            nav.append(f'<a href="#{slug}">{html.escape(title)}</a>')
            parts = []
            for it in items:
                if isinstance(it, _Figure):
                    cap = f'<p class="caption">{html.escape(it.caption)}</p>' if it.caption else ""
                    parts.append(f'<div class="figure">{figure_fragment(it.fig, it.name)}{cap}</div>')
                else:
                    parts.append(it)
            body.append(f'<section id="{slug}"><h2>{html.escape(title)}</h2>{"".join(parts)}</section>')
        if self.provenance:
            nav.append('<a href="#provenance">Provenance</a>')
            body.append('<section id="provenance"><h2>Provenance</h2>'
                        '<p class="caption">Everything needed to reproduce this report.</p>'
                        f"{self._provenance_html()}</section>")
        version = self.provenance.get("pvsd_version", "")
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="generator" content="pvsd {html.escape(str(version))}">'
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style>{_ERROR_TRAP}"
            f'<script type="text/javascript">{plotly_js()}</script></head><body>'
            f'<header><div class="wrap"><h1>{html.escape(self.title)}</h1>'
            f"<p>{html.escape(self.subtitle)}</p></div></header>"
            f'<nav aria-label="Sections"><div class="wrap">{"".join(nav)}</div></nav>'
            '<main><div id="pvsd-js-errors" class="notice" role="alert"></div>'
            f'{"".join(body)}</main>'
            f"<footer>Made with pvsd {html.escape(str(version))}.</footer></body></html>\n"
        )

    def write(self, folder: str | Path, force: bool = False, fragments: bool = False,
              filename: str = "report.html") -> Path:
        """Write the report folder atomically and return the HTML file's path.

        The folder holds ``report.html``, ``series.csv`` (every plotted series),
        one CSV per named table, and with ``fragments`` a ``figures/`` folder with
        one embeddable HTML fragment per figure plus ``plotly.min.js``.
        """
        final = Path(folder)
        check_new(final, force)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
        try:
            write_text(tmp / filename, self.render())
            write_csv(tmp / "series.csv", self.series(), self.provenance, index=False)
            for name, frame in self._tables.items():
                write_csv(tmp / f"{name}.csv", frame, self.provenance)
            if fragments:
                figdir = tmp / "figures"
                figdir.mkdir()
                write_text(figdir / "plotly.min.js", plotly_js())
                for f in self.figures():
                    write_text(
                        figdir / f"{f.name}.html",
                        f"<!-- pvsd figure '{f.name}'. Load plotly.min.js once in your page: "
                        f'<script src="plotly.min.js"></script> -->\n'
                        + figure_fragment(f.fig, f.name) + "\n",
                    )
            replace_dir(tmp, final, force)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final / filename


def kv_table(pairs: Sequence[tuple[str, Any]]) -> str:
    """A two-column definition table."""
    rows = "".join(
        f'<tr><th class="text">{html.escape(str(k))}</th><td class="text">{html.escape(str(v))}</td></tr>'
        for k, v in pairs
    )
    return f'<div class="tablewrap"><table class="data"><tbody>{rows}</tbody></table></div>'
