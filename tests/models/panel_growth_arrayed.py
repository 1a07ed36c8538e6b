"""
Python model 'panel_growth_arrayed.py'
Translated using PySD
"""

from pathlib import Path
import numpy as np
import xarray as xr

from pysd.py_backend.statefuls import Integ
from pysd import Component

__pysd_version__ = "3.14.3"

__data = {"scope": None, "time": lambda: 0}

_root = Path(__file__).parent


_subscript_dict = {"Country": ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG"]}

component = Component()

#######################################################################
#                          CONTROL VARIABLES                          #
#######################################################################

_control_vars = {
    "initial_time": lambda: 2000,
    "final_time": lambda: 2030,
    "time_step": lambda: 0.125,
    "saveper": lambda: time_step(),
}


def _init_outer_references(data):
    for key in data:
        __data[key] = data[key]


@component.add(name="Time")
def time():
    """
    Current time of the model.
    """
    return __data["time"]()


@component.add(
    name="FINAL TIME", units="Year", comp_type="Constant", comp_subtype="Normal"
)
def final_time():
    """
    The final time for the simulation.
    """
    return __data["time"].final_time()


@component.add(
    name="INITIAL TIME", units="Year", comp_type="Constant", comp_subtype="Normal"
)
def initial_time():
    """
    The initial time for the simulation.
    """
    return __data["time"].initial_time()


@component.add(
    name="SAVEPER",
    units="Year",
    limits=(0.0, np.nan),
    comp_type="Auxiliary",
    comp_subtype="Normal",
    depends_on={"time_step": 1},
)
def saveper():
    """
    The frequency with which output is stored.
    """
    return __data["time"].saveper()


@component.add(
    name="TIME STEP",
    units="Year",
    limits=(0.0, np.nan),
    comp_type="Constant",
    comp_subtype="Normal",
)
def time_step():
    """
    The time step for the simulation.
    """
    return __data["time"].time_step()


#######################################################################
#                           MODEL VARIABLES                           #
#######################################################################


@component.add(
    name="Level",
    units="Dmnl",
    limits=(0.0, np.nan),
    subscripts=["Country"],
    comp_type="Stateful",
    comp_subtype="Integ",
    depends_on={"_integ_level": 1},
    other_deps={
        "_integ_level": {"initial": {"initial_level": 1}, "step": {"growth": 1}}
    },
)
def level():
    """
    The arrayed twin of panel_growth.mdl: logistic growth towards a ceiling plus a drift and an external push, one element per unit.
    """
    return _integ_level()


_integ_level = Integ(lambda: growth(), lambda: initial_level(), "_integ_level")


@component.add(
    name="Growth",
    units="1/Year",
    subscripts=["Country"],
    comp_type="Auxiliary",
    comp_subtype="Normal",
    depends_on={
        "growth_rate": 1,
        "level": 2,
        "ceiling": 1,
        "drift": 1,
        "external_push": 1,
    },
)
def growth():
    """
    Logistic growth plus drift.
    """
    return (
        growth_rate() * level() * (1 - level() / ceiling()) + drift() + external_push()
    )


@component.add(
    name="Growth Rate",
    units="1/Year",
    limits=(0.0, 2.0),
    subscripts=["Country"],
    comp_type="Constant",
    comp_subtype="Normal",
)
def growth_rate():
    """
    r, per unit.
    """
    return xr.DataArray(
        [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3],
        {"Country": _subscript_dict["Country"]},
        ["Country"],
    )


@component.add(
    name="Ceiling",
    units="Dmnl",
    limits=(0.1, 2.0),
    comp_type="Constant",
    comp_subtype="Normal",
)
def ceiling():
    """
    K, a scalar shared by every unit.
    """
    return 0.9


@component.add(
    name="Drift",
    units="1/Year",
    limits=(-0.1, 0.1),
    subscripts=["Country"],
    comp_type="Constant",
    comp_subtype="Normal",
)
def drift():
    """
    Constant drift, arrayed (fitted as one shared value).
    """
    return xr.DataArray(
        [0.005, 0.005, 0.005, 0.005, 0.005, 0.005, 0.005],
        {"Country": _subscript_dict["Country"]},
        ["Country"],
    )


@component.add(
    name="External Push",
    units="1/Year",
    limits=(-1.0, 1.0),
    subscripts=["Country"],
    comp_type="Constant",
    comp_subtype="Normal",
)
def external_push():
    """
    An exogenous input per unit (zero by default).
    """
    return xr.DataArray(
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        {"Country": _subscript_dict["Country"]},
        ["Country"],
    )


@component.add(
    name="Initial Level",
    units="Dmnl",
    limits=(0.0, 1.0),
    subscripts=["Country"],
    comp_type="Constant",
    comp_subtype="Normal",
)
def initial_level():
    """
    Level at the initial time, per unit.
    """
    return xr.DataArray(
        [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
        {"Country": _subscript_dict["Country"]},
        ["Country"],
    )
