"""Which model constants the explorer turns into sliders, with what range and step.

A constant becomes a slider when it has a range: the ``[min, max]`` (or
``[min, max, step]``) the model declares in its units field, or else the bounds
an uncertainty (sensitivity/calibration) spec gives it. Constants in a model
comment starts with ``LEVER`` are *policy levers*; in a model that tags none that
way, those of a group whose name mentions levers or policy (Vensim ``.Policy
levers``) are (:mod:`pvsd.lever_tags`). The other ranged constants are *assumptions*. A model without such
hints shows every ranged constant as a lever.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pvsd.lever_tags import LEVER_COMMENT, grid_step, nice_step, policy_levers

if TYPE_CHECKING:
    from pvsd.model import Model
    from pvsd.parameters import ParameterSpace

__all__ = ["Lever", "discover_levers", "grid_step", "mdl_declarations", "nice_step"]

_GROUP_HEAD = re.compile(r"^\s*\*{5,}\s*\.\s*(.+?)\s*\*{5,}\s*$", re.S)


@dataclass(frozen=True)
class Lever:
    """One slider of the explorer.

    Attributes
    ----------
    name
        Variable name as written in the model file.
    units
        Units (without the range).
    comment
        The variable's comment (help text).
    default
        The model's own value.
    min, max, step
        Slider range and step.
    policy
        True for a policy lever, False for a model assumption.
    group
        Model group (sector) the constant is declared in, if known.
    range_source
        ``"model"`` (declared in the model file) or ``"spec"`` (uncertainty spec).
    """

    name: str
    units: str
    comment: str
    default: float
    min: float
    max: float
    step: float
    policy: bool
    group: str = ""
    range_source: str = "model"

    @property
    def label(self) -> str:
        """Name with units, e.g. ``"Technology Investment (Dmnl)"``."""
        return f"{self.name} ({self.units})" if self.units else self.name

    @property
    def help(self) -> str:
        """The comment without a leading ``LEVER`` marker."""
        text = LEVER_COMMENT.sub("", self.comment).strip()
        return text[:1].upper() + text[1:] if text else ""

    def decimals(self) -> int:
        """Digits after the decimal point needed to show values on the step grid (its step
        and start), at most 6."""
        def digits(v: float) -> int:
            s = f"{abs(v):.6f}".rstrip("0")
            return len(s.split(".")[1]) if "." in s else 0

        return min(6, max(digits(v) for v in (self.step, self.min)))

    def fmt(self, value: float) -> str:
        """A value formatted to the slider's precision."""
        return f"{value:.{self.decimals()}f}"


def mdl_declarations(model: Model) -> dict[str, dict[str, Any]]:
    """Group, units text and declared step of every equation of a Vensim ``.mdl``.

    Returns an empty mapping for other formats. Keys are canonical variable names.
    """
    if model.path.suffix.lower() != ".mdl":
        return {}
    try:
        text = model.path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    text = text.split("\\\\\\---///", 1)[0]  # drop the sketch
    text = re.sub(r"\\\s*\n\s*", " ", text)  # line continuations
    out: dict[str, dict[str, Any]] = {}
    group = ""
    for block in text.split("|"):
        parts = block.split("~")
        if len(parts) < 2:
            continue
        head = _GROUP_HEAD.match(parts[0].replace("{UTF-8}", ""))
        if head:
            group = head.group(1).strip()
            continue
        eq = parts[0].replace("{UTF-8}", "").strip()
        m = re.match(r"\s*(\"[^\"]+\"|[^=:(\[]+?)\s*(\[[^\]]*\])?\s*(=|:=|\(|==)", eq)
        if not m:
            continue
        raw = m.group(1).strip().strip('"')
        try:
            canonical = model.resolve(raw)
        except Exception:  # not a model variable (macro, subscript range ...)
            continue
        step = math.nan
        rng = re.search(r"\[([^\]]*)\]", parts[1])
        if rng:
            items = [x.strip() for x in rng.group(1).split(",")]
            if len(items) >= 3:
                try:
                    step = float(items[2])
                except ValueError:
                    step = math.nan
        out[canonical] = {"group": group, "step": step}
    return out


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _lever_labels(model: Model, table: Any) -> list[tuple[str, str]]:
    """(slider name, model variable): a scalar constant is one slider, an arrayed one a
    slider per element (``Collaboration Investment[Firms]``)."""
    out: list[tuple[str, str]] = []
    for name in model.constants:
        dims = model.dims(name) if hasattr(model, "dims") else ()
        if not dims:
            out.append((name, name))
            continue
        try:
            labels = model.expand(f"{name}[{', '.join('*' for _ in dims)}]")
        except Exception:  # a dimension pvsd cannot expand: no sliders rather than wrong ones
            continue
        out += [(lab, name) for lab in labels]
    return out


def discover_levers(model: Model, space: ParameterSpace | None = None,
                    include: Mapping[str, bool] | None = None) -> list[Lever]:
    """The sliders for a model: policy levers first (file order), then assumptions.

    Parameters
    ----------
    model
        The model.
    space
        An uncertainty spec's parameter space (validated against the model):
        gives a range to constants the model declares none for.
    include
        Force a constant in (True: policy lever, False: assumption) even without a
        declared range (a range of 0 to twice its value, or 0 to 1, is used).

    Returns
    -------
    list of Lever
        Policy levers in the order they appear in the model file, then
        assumptions in alphabetical order.
    """
    decl = mdl_declarations(model)
    table = model.variables.set_index("name")
    spec_bounds: dict[str, tuple[float, float]] = {}
    for p in space or ():
        lo, hi = p.support()
        if _finite(lo) and _finite(hi) and hi > lo:
            spec_bounds[model.resolve(p.name)] = (float(lo), float(hi))
    forced = {model.resolve(k): bool(v) for k, v in (include or {}).items()}
    hinted = policy_levers(model.constants, {n: str(table.loc[n, "comment"]) for n in model.constants},
                           {n: decl.get(n, {}).get("group", "") for n in model.constants})
    levers: list[Lever] = []
    for name, base in _lever_labels(model, table):
        row = table.loc[base]
        default = float(model.default(name)) if name != base else float(row["default"])
        if not math.isfinite(default):
            continue  # data-driven or undefined defaults have no single value
        lo, hi, source = float(row["min"]), float(row["max"]), "model"
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            if name in spec_bounds:
                lo, hi = spec_bounds[name]
                source = "spec"
            elif name in forced or base in forced:
                lo, hi = (0.0, 2 * default) if default > 0 else (min(default, 0.0), max(default, 0.0) + 1.0)
                source = "default"
            else:
                continue
        lo, hi = min(lo, default), max(hi, default)
        step = decl.get(base, {}).get("step", math.nan)
        if not (math.isfinite(step) and 0 < step <= hi - lo):
            step = grid_step(lo, hi)
        policy = forced.get(name, forced.get(base, base in hinted if hinted else True))
        units = str(row["units"] or "")
        levers.append(Lever(name, units, str(row["comment"] or ""), default, lo, hi, float(step), policy,
                            decl.get(base, {}).get("group", ""), source))
    if not levers and include is None:
        # nothing declares a range: offer every constant, over a generated range
        return discover_levers(model, space, include={n: True for n in model.constants
                                                      if math.isfinite(float(table.loc[n, "default"]))})
    order = {name: i for i, name in enumerate(decl)}
    policy = sorted((lv for lv in levers if lv.policy), key=lambda lv: (order.get(lv.name, 10**9), lv.name.lower()))
    rest = sorted((lv for lv in levers if not lv.policy), key=lambda lv: lv.name.lower())
    return policy + rest
