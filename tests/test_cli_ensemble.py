"""`pvsd ensemble`: samples in, netCDF out, equal to separate runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from pvsd.cli import main


def test_samples_csv_to_netcdf_equals_separate_runs(teacup, teacup_path, tmp_path):
    samples = pd.DataFrame({"Room Temperature": [50.0, 60.0, 80.0], "Characteristic Time": [5.0, 10.0, 20.0]})
    csv = tmp_path / "samples.csv"
    samples.to_csv(csv, index=False)
    out = tmp_path / "ens.nc"
    assert main(["ensemble", str(teacup_path), "--samples", str(csv), "-v", "Teacup Temperature",
                 "--saveper", "1", "-o", str(out)]) == 0
    with xr.open_dataset(out) as ds:
        assert ds["Teacup Temperature"].dims == ("run", "time") and ds.sizes["run"] == 3
        assert ds.attrs["model_sha256"] == teacup.sha256
        for i, row in samples.iterrows():
            ref = teacup.run(params=row.to_dict(), outputs=["Teacup Temperature"], saveper=1)
            np.testing.assert_allclose(ds["Teacup Temperature"][i].to_numpy(),
                                       ref["Teacup Temperature"].to_numpy(), rtol=1e-12)
            assert float(ds["Room Temperature"][i]) == row["Room Temperature"]
    assert main(["ensemble", str(teacup_path), "--samples", str(csv), "-o", str(out)]) == 2  # exists


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("Room Temperature\n50\n\n", None),
        ("Room Temperature\n50\nnan\n", "NaN"),
        ("Room Temperature\nwarm\n", "not numeric"),
        ("Room Temprature\n50\n", "Did you mean"),
    ],
)
def test_bad_samples(teacup_path, tmp_path, capsys, content, needle):
    csv = tmp_path / "s.csv"
    csv.write_text(content)
    code = main(["ensemble", str(teacup_path), "--samples", str(csv), "-o", str(tmp_path / "o.nc")])
    if needle is None:  # blank trailing lines are fine
        assert code == 0
        return
    assert code == 2
    assert needle in capsys.readouterr().err.replace("\n  ", " ")


def test_scheduler_must_be_an_address(teacup_path, tmp_path, capsys):
    csv = tmp_path / "s.csv"
    csv.write_text("Room Temperature\n50\n")
    assert main(["ensemble", str(teacup_path), "--samples", str(csv), "--scheduler", "localhost",
                 "-o", str(tmp_path / "o.nc")]) == 2
    assert "tcp://" in capsys.readouterr().err
