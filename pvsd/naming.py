"""Matching user-supplied variable names to a model's variables.

Names are compared ignoring case, spaces and underscores, so ``"Public Trust"``,
``"public_trust"`` and ``"PUBLICTRUST"`` all name the same variable.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

from pvsd.errors import UnknownVariableError

__all__ = ["NameIndex", "normalize"]

_DROP = re.compile(r"[\s_\"]+")


def normalize(name: str) -> str:
    """Return the canonical key of a variable name (lower case, no spaces/underscores/quotes)."""
    return _DROP.sub("", str(name)).lower()


class NameIndex:
    """Resolve names to canonical model-file names.

    Parameters
    ----------
    names
        Canonical names (as written in the model file).
    aliases
        Extra spellings (e.g. PySD's Python names) mapped to canonical names.
    model
        Model file name, used in error messages.
    """

    def __init__(
        self,
        names: Iterable[str],
        aliases: Mapping[str, str] | None = None,
        model: str = "",
    ) -> None:
        self.names: list[str] = list(names)
        self.model = model
        self._index: dict[str, str] = {}
        for alias, canonical in (aliases or {}).items():
            self._index[normalize(alias)] = canonical
        for n in self.names:  # canonical names win over aliases
            self._index[normalize(n)] = n

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalize(name) in self._index

    def resolve(self, name: str, where: str = "") -> str:
        """Return the canonical name for ``name`` or raise :class:`UnknownVariableError`."""
        if not isinstance(name, str):
            raise UnknownVariableError(repr(name), where=where, model=self.model)
        key = normalize(name)
        try:
            return self._index[key]
        except KeyError:
            raise UnknownVariableError(
                name, self.suggest(name), where=where, model=self.model
            ) from None

    def suggest(self, name: str, n: int = 3) -> list[str]:
        """Closest canonical names to ``name``, best first."""
        keys = {normalize(c): c for c in self.names}
        close = difflib.get_close_matches(normalize(name), list(keys), n=n, cutoff=0.5)
        if not close:  # substring match helps with partial names like "trust"
            key = normalize(name)
            close = [k for k in keys if key and key in k][:n]
        return [keys[k] for k in close]
