"""Element ids of an HTML page (parsed, so ids inside scripts do not count)."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.ids += [v for k, v in attrs if k == "id" and v]


def element_ids(text: str) -> list[str]:
    p = _Ids()
    p.feed(text)
    return p.ids


def repeated_ids(text: str) -> list[str]:
    """Ids that occur more than once (should be none in any page pvsd writes)."""
    return sorted(k for k, n in Counter(element_ids(text)).items() if n > 1)
