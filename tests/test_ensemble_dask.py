"""Dask executor: equals the in-process ensemble, also when a worker is killed mid-run."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pvsd

distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed")

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "models" / "public_value_chain.mdl"


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as c, distributed.Client(c) as client:
        yield c, client


@pytest.fixture(scope="module")
def model_and_samples():
    path = REFERENCE if REFERENCE.exists() else None
    if path is None:
        pytest.skip("models/public_value_chain.mdl is not there yet")
    model = pvsd.load(path)
    rng = np.random.default_rng(11)
    consts = [c for c in model.constants if np.isfinite(model.default(c))][:4]
    table = model.variables.set_index("name")
    samples = {}
    for c in consts:
        v = model.default(c) * rng.uniform(0.9, 1.1, 600)
        lo, hi = table.loc[c, "min"], table.loc[c, "max"]
        samples[c] = np.clip(v, lo if np.isfinite(lo) else -np.inf, hi if np.isfinite(hi) else np.inf)
    return model, pd.DataFrame(samples)


def test_dask_scheduler_address_equals_inprocess(cluster, model_and_samples) -> None:
    c, _client = cluster
    model, frame = model_and_samples
    outputs = model.stocks[:3]
    local = model.run_ensemble(frame, outputs=outputs)
    remote = model.run_ensemble(frame, outputs=outputs, executor="dask",
                                scheduler=c.scheduler_address, chunk_size=150)
    assert remote.attrs["executor"] == "dask"
    for o in outputs:
        np.testing.assert_array_equal(remote[o].to_numpy(), local[o].to_numpy())


def test_dask_killed_worker_loses_no_members(cluster, model_and_samples) -> None:
    _c, client = cluster
    model, frame = model_and_samples
    outputs = model.stocks[:3]
    local = model.run_ensemble(frame, outputs=outputs)
    killed: list[int] = []

    def kill_one(cl) -> None:
        pids = cl.run(os.getpid)
        victim = sorted(pids.values())[0]

        def later() -> None:
            time.sleep(0.5)  # chunks are running by now
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

        threading.Thread(target=later, daemon=True).start()

    remote = model.run_ensemble(frame, outputs=outputs, executor="dask", scheduler=client,
                                chunk_size=25, _on_client=kill_one)
    assert killed, "no worker was killed"
    for o in outputs:
        np.testing.assert_array_equal(remote[o].to_numpy(), local[o].to_numpy())
    client.wait_for_workers(2, timeout=60)  # the nanny restarted the killed worker
    assert killed[0] not in client.run(os.getpid).values()
