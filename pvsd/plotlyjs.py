"""plotly.js for pvsd's pages: the bundle, where a page gets it, and what it shows without it.

One vocabulary of modes (:data:`PLOTLY_JS_MODES`: shared, folder, inline, cdn) for
the CLI's ``--plotly-js`` and the API; the bundle shipped with the plotly package is
written once per folder and checked by content, never replaced; a page whose
plotly.js did not load says so and how to fix it (used by :mod:`pvsd.document`).
"""

from __future__ import annotations

import hashlib
import html
from functools import lru_cache
from pathlib import Path

from pvsd.io import atomic_write

__all__ = [
    "ASSETS_DIR",
    "PLOTLY_JS_FILE",
    "PLOTLY_JS_MODES",
    "check_plotly_js_mode",
    "plotly_js",
    "shared_plotly_js",
    "shared_plotly_js_name",
    "write_plotly_js",
]

#: File name of plotly.js inside one report's own folder (``plotly_js="folder"``).
PLOTLY_JS_FILE = "plotly.min.js"
#: Folder, beside the reports of a parent folder, holding the one shared plotly.js copy.
ASSETS_DIR = "pvsd-assets"
#: How a page gets plotly.js (one vocabulary for the CLI's ``--plotly-js`` and the API):
#: ``shared``: one copy in ``pvsd-assets/`` of the parent folder, shared by every report in it
#: (default for report folders); ``folder``: a copy inside the report's own folder;
#: ``inline``: inside the page (self-contained, default for a single file); ``cdn``: loaded
#: from cdn.plot.ly when the page is opened (smallest; needs the internet to view).
PLOTLY_JS_MODES = ("shared", "folder", "inline", "cdn")


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """The plotly.js bundle that ships with the plotly package (no network needed)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _plotly_js_bundle() -> str:
    return plotly_js()


@lru_cache(maxsize=1)
def _bundle_bytes() -> bytes:
    return plotly_js().encode("utf-8")


@lru_cache(maxsize=1)
def _bundle_sha256() -> str:
    return hashlib.sha256(_bundle_bytes()).hexdigest()


@lru_cache(maxsize=1)
def plotly_js_version() -> str:
    """The version of the plotly.js bundle that ships with the plotly package."""
    from plotly.offline import get_plotlyjs_version

    return str(get_plotlyjs_version())


def shared_plotly_js_name() -> str:
    """File name of the shared copy in ``pvsd-assets/``: ``plotly-VERSION.min.js``."""
    return f"plotly-{plotly_js_version()}.min.js"


def check_plotly_js_mode(mode: str | None, default: str = "shared", where: str = "plotly_js") -> str:
    """``mode`` checked against :data:`PLOTLY_JS_MODES` (None: ``default``)."""
    if mode is None:
        return default
    if mode not in PLOTLY_JS_MODES:
        from pvsd.errors import ParameterError

        raise ParameterError(f"{where}: {mode!r} is not a way to load plotly.js; choose one of "
                             f"{', '.join(PLOTLY_JS_MODES)} (shared: one copy beside the reports of a "
                             "folder; folder: one per report folder; inline: self-contained page; "
                             "cdn: loaded from the internet).")
    return mode


def write_plotly_js(folder: str | Path, name: str = PLOTLY_JS_FILE) -> Path:
    """Write plotly.js as ``folder/name``, once: a copy that is there already is kept.

    The copy there is checked by content (SHA-256) and never replaced: if it is not
    the bundle of this plotly version, :class:`~pvsd.errors.OutputExistsError` says
    so (delete it and pvsd writes it again). Two pvsd commands writing it at the same
    time both succeed (the file is placed without replacing, then checked).
    """
    from pvsd.errors import OutputExistsError

    path = Path(folder) / name
    if not path.exists():
        try:
            with atomic_write(path, "wb", force=False) as fh:
                fh.write(_bundle_bytes())
        except OutputExistsError:
            pass  # another pvsd command placed it meanwhile: checked below like any copy
    try:
        same = path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == _bundle_sha256()
    except OSError:
        same = False
    if not same:
        raise OutputExistsError(
            f"{str(path)!r} exists but is not the plotly.js {plotly_js_version()} bundle pvsd ships "
            "(its content differs); pvsd does not replace it. Delete it (pvsd writes it again with "
            "the next report), or write the report with --plotly-js inline (plotly_js=\"inline\") "
            "for a self-contained page."
        )
    return path


def shared_plotly_js(parent: str | Path) -> Path:
    """The one plotly.js copy shared by every report in ``parent``: written once into
    ``parent/pvsd-assets/plotly-VERSION.min.js`` (see :func:`write_plotly_js`)."""
    return write_plotly_js(Path(parent) / ASSETS_DIR, shared_plotly_js_name())


def _plotly_src(mode: str, single_file: bool) -> str:
    """How a page refers to plotly.js: relative to the page (``single_file``: a page
    directly in the parent folder; else a page inside a report folder of it)."""
    if mode == "cdn":
        return f"https://cdn.plot.ly/plotly-{plotly_js_version()}.min.js"
    if mode == "folder":
        return PLOTLY_JS_FILE
    return ("" if single_file else "../") + f"{ASSETS_DIR}/{shared_plotly_js_name()}"


def _missing_plotly_html(mode: str, src: str, box_id: str) -> str:
    """A visible message, shown by the page itself when plotly.js did not load."""
    if mode == "cdn":
        where = (f"from {src} (the page was written with --plotly-js cdn, which needs an internet "
                 "connection to view)")
        fix = ("Connect to the internet, or write the report again with --plotly-js shared or "
               "--plotly-js inline (Python: plotly_js=\"inline\") to view it offline.")
    elif mode == "folder":
        where = f"from {src}, a file that belongs in the same folder as this page"
        fix = (f"Keep {PLOTLY_JS_FILE} beside this page (copy the whole report folder), or write the "
               "report again with --plotly-js inline (Python: plotly_js=\"inline\") for a "
               "self-contained file.")
    else:
        up = src.startswith("../")
        where = (f"from {src}, the {ASSETS_DIR} folder "
                 + ("beside this report's folder" if up else "beside this page")
                 + " (one copy shared by every pvsd report written into the same folder)")
        fix = (f"Copy the {ASSETS_DIR} folder along with the report "
               + ("(keep it next to the report's folder)" if up else "(keep it next to the page)")
               + ", or write the report again with --plotly-js inline (Python: plotly_js=\"inline\") "
               "for a self-contained file, or --plotly-js folder for a report folder with its own copy.")
    msg = f"The charts of this page cannot be drawn: plotly.js did not load {where}. {fix}"
    return (f'<div id="{box_id}" class="notice pvsd-plotly-missing" role="alert" style="display:none">'
            f"<strong>Charts missing.</strong> {html.escape(msg)}</div>")


# Run at the end of the body: show the message and mark every empty chart.
_MISSING_CHECK = """<script>
(function () {
  if (typeof Plotly !== 'undefined') { return; }
  var box = document.getElementById('%s');
  if (box) { box.style.display = 'block'; }
  document.querySelectorAll('.plotly-graph-div').forEach(function (div) {
    div.style.height = 'auto';
    if (div.parentElement) { div.parentElement.style.height = 'auto'; }
    div.innerHTML = '<div class="notice">Chart not drawn: plotly.js is missing (see the message at ' +
      'the top of the page).</div>';
  });
})();
</script>"""
