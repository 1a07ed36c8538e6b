"""The interactive what-if explorer: sliders for a model's levers, charts that follow.

``pvsd explore [MODEL]`` starts it in the browser; from Python::

    from pvsd.explorer import create_app, serve
    serve("public_value_chain")                   # blocks; prints the address
    app = create_app(model, scenarios="my.toml")  # a dash.Dash to embed or test

The logic lives in :class:`Explorer` (no Dash needed), the page in
:mod:`pvsd.explorer.app`.
"""

from __future__ import annotations

from typing import Any

from pvsd.explorer.core import Bands, Explorer, ExplorerInputError, Settings, Update, key_outputs
from pvsd.explorer.levers import Lever, discover_levers

__all__ = [
    "Bands",
    "Explorer",
    "ExplorerInputError",
    "ExplorerServer",
    "Lever",
    "Settings",
    "Update",
    "create_app",
    "discover_levers",
    "key_outputs",
    "serve",
    "start_server",
]


def __getattr__(name: str) -> Any:
    # the Dash side is imported only when used, so `import pvsd.explorer` works without Dash
    if name in ("create_app", "serve", "start_server", "ExplorerServer"):
        from pvsd.explorer import app

        return getattr(app, name)
    raise AttributeError(f"module 'pvsd.explorer' has no attribute {name!r}")
