"""Where ensemble chunks run: in this process, a local process pool, or Dask.

A *chunk* is a contiguous slice of ensemble members. Chunk functions are
module-level (picklable) and take the :class:`pvsd.Model` itself (it pickles:
it holds paths and tables, never a PySD model object), so every worker builds
its own engine or loads its own PySD model from the translated file.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "ChunkTask",
    "default_workers",
    "run_chunk",
    "run_dask",
    "run_local",
    "run_processes",
]


#: Key of a chunk's result holding its :class:`pvsd.numerics.RangeViolation` records.
RANGES_KEY = "__ranges__"


def default_workers() -> int:
    """Workers of a local pool: at most 2, at most the CPU count."""
    return max(1, min(2, os.cpu_count() or 1))


@dataclass
class ChunkTask:
    """One slice of an ensemble.

    Attributes
    ----------
    start, stop
        Member indices ``[start, stop)``.
    params
        Canonical name -> array of the slice's values (length ``stop - start``), or a
        :class:`pvsd.timefunc.MemberPiecewise` (one time function per member).
    fixed
        Canonical name -> scalar or ``PiecewiseLinear`` shared by all members.
    mode
        ``"vectorized"`` or ``"pysd"`` (one plain-PySD run per member).
    """

    start: int
    stop: int
    params: dict[str, np.ndarray]
    fixed: dict[str, Any]
    t0: float
    t1: float
    dt: float
    times: np.ndarray
    outputs: list[str]
    mode: str
    method: str = "euler"
    seeds: np.ndarray | None = None  # per-member random streams (models with random functions)


def run_chunk(model: Any, task: ChunkTask) -> tuple[int, int, dict[str, np.ndarray]]:
    """Run one chunk; returns ``(start, stop, {variable: array (n_times, n, *shape)})``."""
    n = task.stop - task.start
    if task.mode == "vectorized":
        from pvsd.engine import simulate

        params: dict[str, Any] = dict(task.fixed)
        params.update(task.params)
        diag: dict[str, Any] = {}
        _, vals = simulate(model, params, task.t0, task.t1, task.dt, task.times, task.outputs,
                           n=n, method=task.method, diagnostics=diag)
        if diag.get("ranges"):
            # declared bounds crossed between saved points travel with the chunk's values
            vals = {**vals, RANGES_KEY: diag["ranges"]}
        return task.start, task.stop, vals
    return task.start, task.stop, _pysd_chunk(model, task)


def _pysd_chunk(model: Any, task: ChunkTask) -> dict[str, np.ndarray]:
    """Plain PySD, one run per member, one PySD model object per chunk.

    Every run sets all the parameters of the ensemble and the time settings
    again, so nothing of one member's run leaks into the next.
    """
    from pvsd.model_arrays import pysd_arrays, to_pysd
    from pvsd.randomness import seeded

    n = task.stop - task.start
    out: dict[str, np.ndarray] = {}
    pysd_model = model._fresh()
    py_out = [model._py[c] for c in task.outputs]
    base: dict[str, Any] = {}
    for name, value in task.fixed.items():
        base[model._py[name]] = to_pysd(model, name, value, pysd_model)
    kwargs: dict[str, Any] = {}
    if task.t0 != model.initial_time:
        kwargs["initial_condition"] = (task.t0, {})
    for i in range(n):
        p = dict(base)
        for name, arr in task.params.items():
            v = arr[i]
            # a member's own time function (MemberPiecewise) or array goes through to_pysd
            p[model._py[name]] = float(v) if np.ndim(v) == 0 and not hasattr(v, "arrays") \
                else to_pysd(model, name, v, pysd_model)
        with warnings.catch_warnings(), seeded(None if task.seeds is None else task.seeds[i]):
            warnings.simplefilter("ignore")
            frame = pysd_model.run(params=p, final_time=task.t1, time_step=task.dt,
                                   return_timestamps=list(task.times), return_columns=py_out,
                                   progress=False, flatten_output=False, **kwargs)
        _, vals = pysd_arrays(model, frame, task.outputs)
        for o in task.outputs:
            if o not in out:
                out[o] = np.empty((len(task.times), n, *vals[o].shape[1:]))
            out[o][:, i] = vals[o]
    return out


Done = tuple[int, int, dict[str, np.ndarray]]


def run_local(model: Any, tasks: Sequence[ChunkTask]) -> Iterator[Done]:
    """Run chunks one after the other in this process."""
    for t in tasks:
        yield run_chunk(model, t)


def run_processes(model: Any, tasks: Sequence[ChunkTask], workers: int | None = None
                  ) -> Iterator[Done]:
    """Run chunks in a local process pool (results in completion order)."""
    workers = workers or default_workers()
    if not tasks:
        return
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
        futures = [pool.submit(run_chunk, model, t) for t in tasks]
        for f in as_completed(futures):
            yield f.result()


def run_dask(
    model: Any,
    tasks: Sequence[ChunkTask],
    scheduler: str | Any | None = None,
    workers: int | None = None,
    retries: int = 3,
    on_client: Callable[[Any], None] | None = None,
) -> Iterator[Done]:
    """Run chunks on a Dask cluster (a local one unless ``scheduler`` is given).

    Parameters
    ----------
    scheduler
        ``None`` (start a ``LocalCluster`` of worker processes), a scheduler
        address such as ``"tcp://host:8786"``, or a ``distributed.Client``.
    retries
        Times a failed chunk is retried. Chunks lost with a dead worker are
        rescheduled by Dask on the remaining/restarted workers.
    on_client
        Called with the client once the chunks are submitted (tests use it to
        kill a worker mid-run).
    """
    try:
        from distributed import Client, LocalCluster
        from distributed import as_completed as das_completed
    except ImportError as exc:  # pragma: no cover - depends on the environment
        from pvsd.errors import PvsdError

        raise PvsdError(
            "executor='dask' needs Dask distributed: pip install 'dask[distributed]'"
        ) from exc
    own_cluster = None
    own_client = None
    if scheduler is None:
        own_cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1,
                                   processes=True, dashboard_address=None)
        client = own_client = Client(own_cluster)
    elif isinstance(scheduler, str):
        client = own_client = Client(scheduler)
    else:
        client = scheduler
    try:
        futures = [client.submit(run_chunk, model, t, retries=retries, pure=False)
                   for t in tasks]
        if on_client is not None:
            on_client(client)
        for fut in das_completed(futures):
            yield fut.result()
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()


def as_param_arrays(params: Mapping[str, np.ndarray], start: int, stop: int) -> dict[str, np.ndarray]:
    """Slices of the member parameter arrays (copies, so chunks pickle small)."""
    from pvsd.timefunc import MemberPiecewise

    return {k: v[start:stop] if isinstance(v, MemberPiecewise) else
            np.ascontiguousarray(v[start:stop]) for k, v in params.items()}
