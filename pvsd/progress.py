"""Progress bars that appear only for work that takes longer than a second."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["progress_bar"]


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass


@contextmanager
def progress_bar(total: int, desc: str, enabled: bool | None = None) -> Iterator[Any]:
    """A tqdm bar (notebook-aware) shown after one second; ``enabled=False`` hides it.

    ``enabled=None`` shows it when standard error is a terminal or in a notebook.
    """
    if enabled is None:
        enabled = sys.stderr.isatty() or "ipykernel" in sys.modules
    if not enabled:
        yield _Silent()
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, delay=1.0, file=sys.stderr, leave=False)
    try:
        yield bar
    finally:
        bar.close()
