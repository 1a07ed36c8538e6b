"""Every reader of user files ends in a PvsdError on malformed input, never a traceback.

Property-based (hypothesis, seeded by its database-free derandomised mode): TOML-shaped
data of every type, mutated from the real bundled files, fed to the scenario, parameter
space, sensitivity and calibration readers.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pvsd.errors import PvsdError

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = tomllib.loads((ROOT / "models" / "scenarios" / "public_value_chain.toml").read_text())
SENSITIVITY = tomllib.loads((ROOT / "models" / "public_value_chain_sensitivity.toml").read_text())
CALIBRATION = tomllib.loads((ROOT / "calibration" / "us_reference.toml").read_text())

# the values a TOML file can hold
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8))
values = st.recursive(scalars, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                      st.dictionaries(st.text(max_size=6), kids,
                                                                      max_size=4)),
                      max_leaves=12)

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def _paths(d: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(d, dict):
        for k, v in d.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(base: dict, path: tuple, value: Any) -> Any:
    if not path:
        return value
    data = copy.deepcopy(base)
    node = data
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return data


def _only_pvsd_errors(fn, data: Any) -> None:
    try:
        fn(data)
    except PvsdError as exc:
        assert str(exc).strip(), "an error must say what is wrong"


def _scenarios(data: Any) -> None:
    from pvsd.scenarios import scenarios_from_dict

    scenarios_from_dict(data if isinstance(data, dict) else {"scenarios": data})


def _space(data: Any) -> None:
    from pvsd.parameters import ParameterSpace

    ParameterSpace.from_dict(data if isinstance(data, dict) else {"parameters": data})


def _sensitivity(data: Any) -> None:
    from pvsd.sensitivity.spec import SensitivitySpec

    SensitivitySpec.from_dict(data if isinstance(data, dict) else {"parameters": data},
                              source=ROOT / "models" / "x.toml")


def _calibration(data: Any) -> None:
    from pvsd.calibration.spec import CalibrationSpec

    CalibrationSpec.from_dict(data if isinstance(data, dict) else {"calibration": data},
                              source=ROOT / "calibration" / "x.toml")


READERS = [("scenarios", _scenarios, SCENARIOS), ("parameter space", _space, SENSITIVITY),
           ("sensitivity", _sensitivity, SENSITIVITY), ("calibration", _calibration, CALIBRATION)]


@pytest.mark.parametrize(("name", "reader", "base"), READERS, ids=[r[0] for r in READERS])
def test_mutated_real_files_end_in_pvsd_errors(name, reader, base) -> None:
    paths = _paths(base)

    @FUZZ
    @given(st.sampled_from(paths), values)
    def check(path: tuple, value: Any) -> None:
        _only_pvsd_errors(reader, _mutate(base, path, value))

    check()


@pytest.mark.parametrize(("name", "reader", "base"), READERS, ids=[r[0] for r in READERS])
def test_arbitrary_documents_end_in_pvsd_errors(name, reader, base) -> None:
    @FUZZ
    @given(st.dictionaries(st.sampled_from([*base.keys(), "x"]), values, max_size=4))
    def check(doc: dict) -> None:
        _only_pvsd_errors(reader, doc)

    check()
