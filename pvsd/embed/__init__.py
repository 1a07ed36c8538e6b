"""Models embedded in documents: model cards, stock-flow diagrams and live simulators.

* :mod:`pvsd.embed.js_backend` compiles a model's IR (:mod:`pvsd.engine.ir`) to
  JavaScript that reproduces pvsd's own runs;
* :mod:`pvsd.embed.live` writes a single static HTML file (or a fragment) in which
  readers move sliders for the policy levers and see the model re-simulate;
* :mod:`pvsd.embed.sketch` reads the sketch (diagram) section of Vensim ``.mdl``
  files and :mod:`pvsd.embed.diagram` draws stock-flow diagrams as SVG;
* :mod:`pvsd.embed.card` writes the model card (documentation) in HTML and Markdown.

Import the submodules you need; nothing heavy is imported here.
"""

from __future__ import annotations

__all__ = ["compile_js", "diagram_svg", "live_html", "model_card"]


def __getattr__(name: str):  # lazy re-exports
    if name == "compile_js":
        from pvsd.embed.js_backend import compile_js

        return compile_js
    if name == "diagram_svg":
        from pvsd.embed.diagram import diagram_svg

        return diagram_svg
    if name == "live_html":
        from pvsd.embed.live import live_html

        return live_html
    if name == "model_card":
        from pvsd.embed.card import model_card

        return model_card
    raise AttributeError(name)
