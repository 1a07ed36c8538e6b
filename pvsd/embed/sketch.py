"""Read the sketch (diagram) section and the groups of a Vensim ``.mdl`` file.

Why this module reads model files itself: everything else in pvsd works from
PySD's translation and abstract model, which keep the equations but drop the
*sketch* (the positions of stocks, flows, variables, arrows and clouds that
Vensim draws in its views) and the equation groups. Both are file-level
artefacts needed only for documentation and diagrams, so this is the one place
that reads them, and it reads nothing else: equations always come from the IR.

The sketch format (Vensim ``V300``): after ``\\\\\\---/// Sketch information``
each view starts with ``*View name`` and a ``$`` font line, followed by one
object per line ``type,id,name,x,y,w,h,shape,bits,...``:

* ``10`` variable (``bits`` even: a shadow/ghost copy of a variable defined in
  another view); ``x, y`` is the centre, ``w, h`` half-width and half-height;
* ``11`` valve of a flow (the flow's name is the next, attached, ``10`` object);
* ``12`` cloud (name ``48``) or comment;
* ``1`` arrow ``1,id,from,to,shape,hidden,polarity,thickness,...|(x,y)|``:
  thickness 22 marks a flow pipe, ``shape`` 4 a pipe end with an arrowhead,
  polarity is a character code (43 ``+``, 45 ``-``), the points after ``|``
  are the control point of a curved arrow or the corners of a bent pipe.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Arrow", "SketchObject", "View", "parse_sketch", "vensim_groups"]

_START = "\\\\\\---/// Sketch information"
_END = "///---\\\\\\"
_OBJ = re.compile(r"^(\d+),(\d+),")


@dataclass
class SketchObject:
    """One drawn object of a view (variable, valve, cloud or comment)."""

    id: int
    type: str  # "variable", "valve", "cloud", "comment", "other"
    name: str
    x: float
    y: float
    w: float
    h: float
    shape: int = 0
    shadow: bool = False

    @property
    def attached(self) -> bool:
        """A variable drawn attached to a valve (the flow's name)."""
        return self.type == "variable" and bool(self.shape & 32)

    @property
    def box(self) -> bool:
        """Drawn as a box (how Vensim draws stocks)."""
        return (self.shape & 31) == 3


@dataclass
class Arrow:
    """An arrow (causal link) or a flow pipe between two objects."""

    id: int
    src: int
    dst: int
    shape: int
    polarity: str
    pipe: bool
    points: list[tuple[float, float]] = field(default_factory=list)

    @property
    def head(self) -> bool:
        """Draw an arrowhead at the destination."""
        return not self.pipe or self.shape == 4


@dataclass
class View:
    """One view (page) of the sketch."""

    name: str
    objects: dict[int, SketchObject] = field(default_factory=dict)
    arrows: list[Arrow] = field(default_factory=list)

    def valve_flow(self, valve_id: int) -> SketchObject | None:
        """The flow variable drawn attached to a valve."""
        nxt = self.objects.get(valve_id + 1)
        if nxt is not None and nxt.attached:
            return nxt
        valve = self.objects[valve_id]
        cands = [o for o in self.objects.values() if o.attached]
        if not cands:
            return None
        best = min(cands, key=lambda o: (o.x - valve.x) ** 2 + (o.y - valve.y) ** 2)
        return best if abs(best.x - valve.x) + abs(best.y - valve.y) < 80 else None

    def variables(self) -> list[SketchObject]:
        """Variables drawn in this view (shadows included)."""
        return [o for o in self.objects.values() if o.type == "variable"]


def _fields(line: str) -> list[str]:
    return next(csv.reader([line], quotechar='"', skipinitialspace=False))


def _num(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def _clean_name(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = name[1:-1]
    name = name.replace("\\n", " ").replace("\\\\", "\\")
    return re.sub(r"\s+", " ", name).strip()


def sketch_text(path: str | Path) -> str:
    """The raw sketch section of a ``.mdl`` file ("" when it has none)."""
    p = Path(path)
    if p.suffix.lower() != ".mdl" or not p.is_file():
        return ""
    text = p.read_text(encoding="utf-8", errors="replace")
    start = text.find(_START)
    if start < 0:
        return ""
    end = text.find(_END, start)
    return text[start: end if end >= 0 else len(text)]


def parse_sketch(source: str | Path) -> list[View]:
    """Parse the views of a Vensim sketch.

    Parameters
    ----------
    source
        Path of a ``.mdl`` file, or the sketch text itself.

    Returns
    -------
    list of View
        In file order; empty when the file has no sketch (XMILE, ``.py``, or a
        ``.mdl`` written without a diagram). Views without any object are dropped.
    """
    text = source if isinstance(source, str) and _START in source else sketch_text(source)
    views: list[View] = []
    cur: View | None = None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\r")
        i += 1
        if line.startswith("*"):
            cur = View(line[1:].strip() or f"View {len(views) + 1}")
            views.append(cur)
            continue
        if cur is None or not _OBJ.match(line):
            continue
        try:
            f = _fields(line.split("|", 1)[0] if line.startswith("1,") else line)
        except (csv.Error, StopIteration):
            continue
        code = f[0]
        if code == "1" and len(f) >= 8:
            pts = [(float(a), float(b)) for a, b in re.findall(r"\((-?[\d.]+),(-?[\d.]+)\)", line)]
            pol = {"43": "+", "45": "-", "83": "S", "79": "O"}.get(f[6].strip(), "")
            cur.arrows.append(Arrow(int(f[1]), int(_num(f[2])), int(_num(f[3])), int(_num(f[4])),
                                    pol, f[7].strip() == "22", pts))
            continue
        if len(f) < 7:
            continue
        oid, name = int(f[1]), f[2]
        x, y, w, h = (_num(v) for v in f[3:7])
        shape = int(_num(f[7])) if len(f) > 7 else 0
        bits = int(_num(f[8])) if len(f) > 8 else 3
        if code == "10":
            cur.objects[oid] = SketchObject(oid, "variable", _clean_name(name), x, y, w, h, shape,
                                            shadow=bits % 2 == 0)
        elif code == "11":
            cur.objects[oid] = SketchObject(oid, "valve", "", x, y, w, h, shape)
        elif code == "12":
            if name.strip() == "48":
                cur.objects[oid] = SketchObject(oid, "cloud", "", x, y, w, h, shape)
            else:
                label = _clean_name(name) if name.strip() not in ("0", "") else ""
                if not label and i < len(lines) and not _OBJ.match(lines[i]):
                    label = _clean_name(lines[i])
                    i += 1
                cur.objects[oid] = SketchObject(oid, "comment", label, x, y, w, h, shape)
        else:
            cur.objects[oid] = SketchObject(oid, "other", _clean_name(name), x, y, w, h, shape)
    return [v for v in views if v.objects]


_GROUP_HEAD = re.compile(r"^\s*\*{5,}\s*\n\s*\.([^\n]+)\n\s*\*{5,}", re.S)
_NAME = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|[^=(\[:~|]+?)\s*(?:\(|\[|=|:=|:)', re.S)


def vensim_groups(path: str | Path) -> dict[str, str]:
    """Vensim equation groups: variable name (as written) -> group name.

    The ``.Control`` group is omitted. Empty when the file has no groups or is
    not a ``.mdl`` file.
    """
    p = Path(path)
    if p.suffix.lower() != ".mdl" or not p.is_file():
        return {}
    text = p.read_text(encoding="utf-8", errors="replace")
    cut = text.find(_START)
    body = text[: cut if cut >= 0 else len(text)]
    body = body.replace("{UTF-8}", "", 1)
    out: dict[str, str] = {}
    group = ""
    for chunk in body.split("|"):
        m = _GROUP_HEAD.match(chunk)
        if m:
            group = m.group(1).strip()  # the rest of the chunk is the group's comment
            continue
        nm = _NAME.match(chunk)
        if nm and group and group.lower() != "control":
            name = _clean_name(nm.group(1).replace("\\\n", " "))
            if name and name not in out:
                out[name] = group
    return out
