"""A model's theory and references, read from its documentation for cards and reports.

The documentation is ``MODEL.md`` beside the model file, else a ``README.md`` beside it
whose first heading names the model. Sections are picked by their headings: the
theory (what the model represents, its stages, limitations) and the references.
Analyses never parse model files; this reads the modeller's prose only.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ModelDoc", "markdown_html", "model_doc"]

_THEORY = re.compile(r"represent|theory|background|purpose|stages|pathway|limitation", re.I)
_REFS = re.compile(r"^references?$|bibliograph|literature", re.I)


@dataclass(frozen=True)
class ModelDoc:
    """Sections of a model's documentation: ``(heading, markdown)`` pairs."""

    source: Path | None
    theory: tuple[tuple[str, str], ...] = ()
    references: str = ""


def _doc_file(model_path: Path) -> Path | None:
    own = model_path.with_suffix(".md")
    if own.is_file():
        return own
    readme = model_path.parent / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8", errors="replace")
        first = next((ln for ln in text.splitlines() if ln.startswith("# ")), "")
        if model_path.stem.lower() in first.lower() or model_path.name.lower() in first.lower():
            return readme
    return None


def _sections(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    head, body = None, []
    for line in text.splitlines():
        if line.startswith("## "):
            if head is not None:
                out.append((head, "\n".join(body).strip()))
            head, body = line[3:].strip(), []
        elif head is not None:
            body.append(line)
    if head is not None:
        out.append((head, "\n".join(body).strip()))
    return out


def model_doc(model_path: str | Path) -> ModelDoc:
    """The theory and references of the model at ``model_path`` (empty when undocumented)."""
    src = _doc_file(Path(model_path))
    if src is None:
        return ModelDoc(None)
    secs = _sections(src.read_text(encoding="utf-8", errors="replace"))
    theory = tuple((h, b) for h, b in secs if _THEORY.search(h) and b)
    refs = "\n\n".join(b for h, b in secs if _REFS.search(h.strip()) and b)
    return ModelDoc(src, theory, refs)


def _inline(text: str) -> str:
    t = html.escape(text, quote=False)
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
    t = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", t)
    t = re.sub(r"(?<![*\w])\*([^*\s][^*]*)\*(?!\w)", r"<i>\1</i>", t)
    t = re.sub(r"\[([^\]]+)\]\((https?://[^)\s]+)\)", r'<a href="\2">\1</a>', t)
    return t


def markdown_html(text: str) -> str:
    """The small Markdown subset model documentation uses: paragraphs, bullet lists,
    pipe tables, ``code``, **bold**, *italic* and links. Everything is escaped."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        ln = lines[i]
        if not ln.strip() or ln.strip().startswith("```"):
            if ln.strip().startswith("```"):  # code block: verbatim
                j = i + 1
                while j < len(lines) and not lines[j].strip().startswith("```"):
                    j += 1
                out.append("<pre>" + html.escape("\n".join(lines[i + 1:j])) + "</pre>")
                i = j + 1
                continue
            i += 1
            continue
        if ln.lstrip().startswith("|"):
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                cells = [c.strip() for c in re.split(r"(?<!\\)\|", lines[i].strip())[1:-1]]
                if not all(re.fullmatch(r":?-{2,}:?", c) for c in cells):
                    rows.append(cells)
                i += 1
            if rows:
                head = "".join(f'<th class="text">{_inline(c)}</th>' for c in rows[0])
                body = "".join("<tr>" + "".join(f'<td class="text">{_inline(c)}</td>' for c in r) + "</tr>"
                               for r in rows[1:])
                out.append(f'<div class="tablewrap"><table class="data"><thead><tr>{head}</tr></thead>'
                           f"<tbody>{body}</tbody></table></div>")
            continue
        if re.match(r"\s*[*-] ", ln):
            items: list[str] = []
            while i < len(lines) and (re.match(r"\s*[*-] ", lines[i]) or (lines[i].startswith("  ") and items)):
                if re.match(r"\s*[*-] ", lines[i]):
                    items.append(re.sub(r"^\s*[*-] ", "", lines[i]))
                else:
                    items[-1] += " " + lines[i].strip()
                i += 1
            out.append("<ul>" + "".join(f"<li>{_inline(it)}</li>" for it in items) + "</ul>")
            continue
        para = []
        while i < len(lines) and lines[i].strip() and not lines[i].lstrip().startswith(("|", "```")) \
                and not re.match(r"\s*[*-] ", lines[i]):
            para.append(lines[i].strip())
            i += 1
        if para:
            text_ = " ".join(para)
            if text_.startswith("### "):
                out.append(f"<h3>{_inline(text_[4:])}</h3>")
            else:
                out.append(f"<p>{_inline(text_)}</p>")
    return "".join(out)
