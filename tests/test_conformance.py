"""pvsd runs reproduce the SDXorg canonical outputs (teacup, SIR)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import TEST_MODELS, require

import pvsd


@pytest.mark.parametrize("sample", ["teacup", "SIR"])
def test_canonical_output(sample):
    folder = require(TEST_MODELS / "samples" / sample)
    model = pvsd.load(folder / f"{sample}.mdl")
    canon = pd.read_csv(folder / "output.csv").set_index("Time")
    outputs = [c for c in canon.columns if model.kind(c) != "constant"]
    res = model.run(return_times=canon.index.to_numpy(), outputs=outputs).to_dataframe()
    assert len(outputs) >= 2
    np.testing.assert_allclose(res.index.to_numpy(), canon.index.to_numpy(), atol=1e-4)
    for col in outputs:
        np.testing.assert_allclose(res[col].to_numpy(), canon[col].to_numpy(), rtol=1e-5,
                                   atol=1e-12, err_msg=f"{sample}: {col}")
