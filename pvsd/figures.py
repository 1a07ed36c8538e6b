"""Static export of plotly figures (PNG, SVG, PDF) for Word, LaTeX and PDF documents.

Export uses kaleido 1.x (installed with pvsd), which drives a Chrome or Chromium
already on the machine through a DevTools pipe: no network, no server. Set
``BROWSER_PATH`` to choose the browser; without one the error says how to get one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pvsd.errors import PvsdError

__all__ = ["FORMATS", "check_formats", "save_figure", "save_figures"]

#: The static formats every figure can be written in.
FORMATS: tuple[str, ...] = ("png", "svg", "pdf")

# A4-friendly default size (px at scale 1; PNG is written at scale 2 for print).
_WIDTH, _HEIGHT = 960, 540


class ExportError(PvsdError):
    """A figure could not be written as a static image."""


def check_formats(formats: Iterable[str] | str | None) -> tuple[str, ...]:
    """Normalise and check static formats: ``"png,svg"`` or ``["PNG", "pdf"]``."""
    if formats is None:
        return ()
    if isinstance(formats, str):
        formats = formats.split(",")
    out: list[str] = []
    for f in formats:
        f = f.strip().lower().lstrip(".")
        if not f:
            continue
        if f not in FORMATS:
            raise ExportError(f"--format {f!r}: static figures can be written as {', '.join(FORMATS)}.")
        if f not in out:
            out.append(f)
    return tuple(out)


def _browser_missing_message(detail: str = "") -> str:
    return ("Static figure export (PNG/SVG/PDF) needs Chrome or Chromium on this machine and none was found"
            + (f" ({detail})" if detail else "") + ". Install one (Debian/Ubuntu: apt-get install chromium; "
            "macOS/Windows: Google Chrome) or point BROWSER_PATH at its executable, then run again. "
            "The HTML report does not need it.")


def _find_browser() -> str:
    path = os.environ.get("BROWSER_PATH")
    if path:
        if not (Path(path).is_file() and os.access(path, os.X_OK)):
            raise ExportError(_browser_missing_message(f"BROWSER_PATH={path!r} is not an executable file"))
        return path
    try:
        from choreographer.browsers.chromium import Chromium

        found = Chromium.find_browser(skip_local=False)
    except Exception:  # choreographer raises ChromeNotFoundError and others
        found = None
    if not found:
        import shutil

        for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
            found = shutil.which(name)
            if found:
                break
    if not found:
        raise ExportError(_browser_missing_message())
    return str(found)


def _kaleido() -> Any:
    try:
        import kaleido
    except ImportError:
        raise ExportError("Static figure export needs the kaleido package (installed with pvsd): "
                          "pip install 'kaleido>=1,<2'.") from None
    return kaleido


def save_figures(figures: Mapping[str, Any] | Sequence[tuple[Any, str | os.PathLike[str]]],
                 formats: Iterable[str] | str = FORMATS, folder: str | os.PathLike[str] | None = None,
                 *, width: int = _WIDTH, height: int = _HEIGHT, force: bool = False) -> list[Path]:
    """Write many figures in one browser session.

    Parameters
    ----------
    figures
        ``{name: figure}`` written as ``folder/name.FMT`` for every format, or a
        sequence of ``(figure, path)`` whose suffix gives the format.
    formats
        With a mapping: the formats to write (default all of png, svg, pdf).
    folder
        With a mapping: where to write (default: the working directory).
    width, height
        Size in CSS pixels; PNGs are rendered at twice that for print.
    force
        Replace existing files (never done silently).

    Returns
    -------
    list of Path
        The files written. Each is staged and moved into place only when complete.
    """
    from pvsd.io import check_new

    jobs: list[tuple[Any, Path, str]] = []
    if isinstance(figures, Mapping):
        fmts = check_formats(formats)
        base = Path(folder) if folder is not None else Path()
        for name, fig in figures.items():
            jobs.extend((fig, base / f"{name}.{f}", f) for f in fmts)
    else:
        for fig, path in figures:
            p = Path(path)
            fmt = check_formats(p.suffix.lstrip(".") or "?")
            jobs.append((fig, p, fmt[0]))
    if not jobs:
        return []
    for _, path, _ in jobs:
        check_new(path, force)
    browser = _find_browser()
    kaleido = _kaleido()
    staged: list[tuple[Path, Path]] = []
    try:
        specs = []
        for fig, path, fmt in jobs:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".{fmt}", dir=path.parent)
            os.close(fd)
            staged.append((Path(tmp), path))
            d = fig.to_dict() if hasattr(fig, "to_dict") else dict(fig)
            h = (d.get("layout") or {}).get("height") or height  # many-panel figures set their own
            specs.append({"fig": d, "path": tmp,
                          "opts": {"format": fmt, "width": width, "height": h,
                                   "scale": 2 if fmt == "png" else 1}})
        def empty() -> list[int]:
            return [k for k, (tmp, _) in enumerate(staged) if not tmp.is_file() or tmp.stat().st_size == 0]

        old = os.environ.get("BROWSER_PATH")
        os.environ["BROWSER_PATH"] = browser
        try:
            kaleido.write_fig_from_object_sync(specs, kopts={"mathjax": False})
            if empty():  # a busy machine's browser sometimes drops an image: ask once more for those
                kaleido.write_fig_from_object_sync([specs[k] for k in empty()], kopts={"mathjax": False})
        except Exception as exc:  # kaleido/choreographer raise many types
            msg = f"{type(exc).__name__}: {exc}".strip()
            if "ChromeNotFound" in msg or ("browser" in msg.lower() and "not found" in msg.lower()):
                raise ExportError(_browser_missing_message(msg)) from None
            raise ExportError(f"Writing static figures with {browser} failed: {msg[:400]}") from None
        finally:
            if old is None:
                os.environ.pop("BROWSER_PATH", None)
            else:
                os.environ["BROWSER_PATH"] = old
        for k in empty():
            raise ExportError(f"The browser wrote no image for {staged[k][1]} (asked twice); nothing was "
                              "replaced. Try again, or with fewer programs running.")
        from pvsd.io import _umask

        mode = 0o666 & ~_umask()
        for tmp, path in staged:
            check_new(path, force)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    return [p for _, p, _ in jobs]


def save_figure(fig: Any, path: str | os.PathLike[str], *, width: int = _WIDTH, height: int = _HEIGHT,
                force: bool = False) -> Path:
    """Write one plotly figure as PNG, SVG or PDF (format from the file suffix).

    ``fig.write_image(path)`` works as well (kaleido is installed with pvsd); this
    function adds pvsd's checks: a clear error without a browser, no half-written
    or silently replaced file.
    """
    return save_figures([(fig, path)], width=width, height=height, force=force)[0]
