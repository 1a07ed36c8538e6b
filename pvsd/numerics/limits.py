"""Limits on work: refuse runs and model files that would take hours or all the memory.

A run costs about ``steps x members x variables`` evaluations and keeps
``saved times x members x outputs`` numbers. :func:`check_work` estimates both
before anything runs and raises :class:`WorkLimitError` above the limits,
unless the caller explicitly allows long runs (``allow_long=True`` in Python,
``--force-long`` on the command line). :func:`check_model_file` refuses huge or
non-text model files before PySD's parser (whose memory grows far faster than
the file) sees them.

The limits can be changed with the environment variables ``PVSD_MAX_WORK``
(variable-steps, default 2e9), ``PVSD_MAX_MEMORY_GB`` (default: half the
machine's memory, at most 8) and ``PVSD_MAX_MODEL_MB`` (default 20).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from pvsd.errors import ModelLoadError, PvsdError

__all__ = [
    "MAX_MODEL_BYTES",
    "MAX_WORK",
    "WorkEstimate",
    "WorkLimitError",
    "check_model_file",
    "check_work",
    "estimate_work",
]

#: Default limit on steps x members x variables (about half an hour of plain PySD).
MAX_WORK = 2e9

#: Default largest model file accepted (bytes); real models are well below 2 MB.
MAX_MODEL_BYTES = 20 * 1024 * 1024

#: Most equations accepted in one Vensim file (large real models have a few thousand).
MAX_EQUATIONS = 100_000

#: Longest single Vensim equation accepted (characters between two ``|``).
MAX_EQUATION_CHARS = 500_000

#: Measured order of magnitude of the cost of one variable-step (seconds): plain PySD,
#: and the vectorised engine per member (its per-step overhead is spread over members).
_SEC_PER_VARSTEP_PYSD = 1.7e-6
_SEC_PER_VARSTEP_ENGINE = 2e-8


class WorkLimitError(PvsdError):
    """A run would take too long or too much memory (override explicitly to run it)."""


@dataclass(frozen=True)
class WorkEstimate:
    """What a run will cost, estimated before it starts."""

    steps: int
    members: int
    variables: int
    saved: int
    outputs: int

    @property
    def work(self) -> float:
        """Variable evaluations: steps x members x variables."""
        return float(self.steps) * self.members * self.variables

    @property
    def memory_bytes(self) -> float:
        """Bytes of saved output (float64)."""
        return 8.0 * self.saved * self.members * self.outputs

    def seconds(self, vectorized: bool) -> float:
        """Rough run time."""
        rate = _SEC_PER_VARSTEP_ENGINE if vectorized else _SEC_PER_VARSTEP_PYSD
        per_step_overhead = 1e-6 * self.variables * self.steps if vectorized else 0.0
        return self.work * rate + per_step_overhead


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        val = float(raw)
    except ValueError:
        raise PvsdError(f"environment variable {name}={raw!r} must be a number.") from None
    if not val > 0:
        raise PvsdError(f"environment variable {name}={raw!r} must be positive.")
    return val


def _memory_limit() -> float:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 1024**3
    return _env_float("PVSD_MAX_MEMORY_GB", min(8.0, total / 2 / 1024**3)) * 1024**3


def estimate_work(t0: float, t1: float, dt: float, n_saved: int, n_outputs: int,
                  n_variables: int, members: int = 1) -> WorkEstimate:
    """Estimate the cost of a run (``members`` parameter sets at once)."""
    ratio = (t1 - t0) / dt if dt > 0 else 0.0
    steps = math.floor(ratio + 1e-9) + 1 if math.isfinite(ratio) else 10**18
    return WorkEstimate(steps, max(1, int(members)), max(1, int(n_variables)), int(n_saved),
                        int(n_outputs))


def _human_seconds(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


def check_work(est: WorkEstimate, allow_long: bool = False, vectorized: bool = True,
               what: str = "this run") -> WorkEstimate:
    """Raise :class:`WorkLimitError` when ``est`` is above the limits and not allowed.

    Parameters
    ----------
    est
        From :func:`estimate_work`.
    allow_long
        Run anyway (``allow_long=True`` / ``--force-long``).
    vectorized
        The vectorised engine runs it (else one PySD run per member): for the time estimate.
    what
        Names the run in the message.
    """
    if allow_long:
        return est
    max_work = _env_float("PVSD_MAX_WORK", MAX_WORK)
    max_mem = _memory_limit()
    detail = (f"{est.steps:,} time steps x {est.members:,} run(s) x {est.variables} variables "
              f"= {est.work:.3g} variable-steps")
    if est.work > max_work:
        raise WorkLimitError(
            f"{what} is too long to start without asking: {detail} (limit {max_work:.3g}), "
            f"estimated {_human_seconds(est.seconds(vectorized))}. Use a larger time step or a "
            "shorter run, or fewer members; to run it anyway pass allow_long=True "
            "(command line: --force-long; limit: PVSD_MAX_WORK)."
        )
    if est.memory_bytes > max_mem:
        raise WorkLimitError(
            f"{what} would keep {est.memory_bytes / 1024**3:.1f} GB of results ({est.saved:,} saved "
            f"times x {est.members:,} run(s) x {est.outputs} outputs; limit "
            f"{max_mem / 1024**3:.1f} GB). Save less often (saveper / save_every), keep fewer "
            "outputs or members; to run it anyway pass allow_long=True (command line: "
            "--force-long; limit: PVSD_MAX_MEMORY_GB)."
        )
    return est


def check_model_file(path: Path) -> None:
    """Refuse a model file that is too large or not a text model, before PySD parses it.

    PySD's parser needs memory far beyond the file size (a 6 MB junk file took
    4.7 GB before failing), so a cheap look comes first: the size, NUL bytes,
    the text encoding, and the marks every Vensim equation has (``~`` and ``|``)
    or the XML root of an XMILE file.
    """
    limit = int(_env_float("PVSD_MAX_MODEL_MB", MAX_MODEL_BYTES / 1024**2) * 1024**2)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ModelLoadError(f"Cannot read model file {str(path)!r}: {exc}") from None
    if size > limit:
        raise ModelLoadError(
            f"Model file {str(path)!r} is {size / 1024**2:.1f} MB, larger than any real model "
            f"pvsd expects ({limit / 1024**2:.0f} MB limit): it is probably not a model file. "
            "If it really is one, raise the limit with PVSD_MAX_MODEL_MB."
        )
    with open(path, "rb") as fh:
        head = fh.read()
    where = f"Model file {str(path)!r}"
    if b"\x00" in head:
        raise ModelLoadError(f"{where} contains NUL bytes: it is a binary file, not a Vensim "
                             ".mdl or XMILE text file.")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = head.decode("latin-1")  # old Vensim files are Windows-1252/Latin-1
        printable = sum(c.isprintable() or c in "\r\n\t" for c in text)
        if printable < 0.98 * len(text):
            raise ModelLoadError(f"{where} is not a text file (byte {exc.start} is not UTF-8 "
                                 "and much of it is unprintable): give a Vensim .mdl or XMILE "
                                 "file.") from None
    suffix = path.suffix.lower()
    if suffix == ".mdl":
        equations = text.split("\\\\\\---///", 1)[0]
        if "~" not in equations or "|" not in equations:
            raise ModelLoadError(
                f"{where} does not look like a Vensim model: Vensim equations have the form "
                "'name = expression ~ units ~ comment |', and this file has no '~' or '|' "
                "before its sketch section."
            )
        chunks = equations.split("|")
        if len(chunks) > MAX_EQUATIONS and not os.environ.get("PVSD_MAX_MODEL_MB"):
            raise ModelLoadError(
                f"{where} has {len(chunks):,} equations, more than pvsd accepts "
                f"({MAX_EQUATIONS:,}; PySD's parser would need many gigabytes). It is probably "
                "not a real model; set PVSD_MAX_MODEL_MB to try anyway."
            )
        if size > 1024 * 1024:
            # a big file must look like equations: every 'equation ~ units ~ comment |'
            # (and every group header) has a '~'
            marked = sum("~" in c for c in chunks[:-1])
            if marked < 0.9 * (len(chunks) - 1):
                raise ModelLoadError(
                    f"{where} does not look like a Vensim model: {len(chunks) - 1 - marked:,} of "
                    f"its {len(chunks) - 1:,} '|'-terminated parts lack the '~' that separates "
                    "an equation from its units and comment."
                )
        longest = max(len(chunk) for chunk in chunks)
        if longest > MAX_EQUATION_CHARS:
            raise ModelLoadError(
                f"{where} has an equation of {longest:,} characters (between two '|'); real "
                f"Vensim equations are far shorter (limit {MAX_EQUATION_CHARS:,}). It is "
                "probably not a model file, or an equation lacks its closing '|'."
            )
    elif suffix in (".xmile", ".stmx", ".xml"):
        if "<" not in text[:4096] or "xmile" not in text.lower():
            raise ModelLoadError(f"{where} does not look like an XMILE model (no <xmile> root "
                                 "element near its start).")
