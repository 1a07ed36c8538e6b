"""Slow calibration checks: interval coverage over repeated noisy data sets (run with -m slow)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tests.test_calibration import recovery_fit

pytestmark = pytest.mark.slow


def test_wald_intervals_cover_truth_at_nominal_rate() -> None:
    """40 data sets from the reference model: 95% intervals cover each true value ~95% of the time."""
    n = 40
    hits: dict[str, int] = {}
    for seed in range(100, 100 + n):
        r, truth = recovery_fit(seed)
        table = r.to_dataframe()
        for name, value in truth.items():
            row = table.loc[name]
            hits[name] = hits.get(name, 0) + int(row.lower <= value <= row.upper)
    # with 40 trials and p = 0.95, fewer than 34 hits has probability < 1%
    low = stats.binom.ppf(0.005, n, 0.95)
    for name, k in hits.items():
        assert k >= low, f"{name}: {k}/{n} intervals cover the truth"
    assert np.mean(list(hits.values())) / n > 0.88
