"""Model sections for pvsd's reports, composed from :mod:`pvsd.embed`: model card, diagram, live simulator."""

from __future__ import annotations

from typing import Any

from pvsd.errors import PvsdError

__all__ = ["add_model_sections"]


def add_model_sections(rep: Any, model: Any, scenarios: Any = None, live: bool = False,
                       card: bool = True, loops: bool = True) -> None:
    """Append the model documentation (and optionally the live simulator) to a report.

    Parameters
    ----------
    rep
        A :class:`~pvsd.document.Report` under construction.
    model
        The :class:`pvsd.Model` the report is about.
    scenarios
        Scenarios offered as presets in the live simulator.
    live
        Add the live simulator section. A model outside the JavaScript subset
        gets a notice naming the construct instead (never a broken section).
    card
        Add the model card sections (diagram, stocks and flows, levers, loops, equations).
    loops
        Include the feedback-loop section of the card.
    """
    from pvsd.embed.card import add_card, model_card

    if card:
        mc = model_card(model, loops=loops)
        mc.blocks = [b for b in mc.blocks if b.title != "Purpose"]  # the report says it already
        add_card(rep, mc, css=True)
    if not live:
        return
    from pvsd.embed.live import live_fragment

    rep.section("Live simulator")
    try:
        frag = live_fragment(model, scenarios=list(scenarios) if scenarios is not None else None,
                             title="Try the levers yourself")
    except PvsdError as exc:
        rep.add_notice(f"The live simulator is not available for this model: {exc}")
        return
    rep.add_html(frag)
