"""pvsd's intermediate representation (IR) of a system-dynamics model.

The IR is built from PySD's *abstract model* (the translator output that sits
between a Vensim/XMILE file and PySD's generated Python module). It is small,
typed, independent of numpy, and meant for reuse by several back ends:

* :mod:`pvsd.engine.numpy_backend` compiles it to a vectorised simulator;
* a loop-analysis module evaluates single equations with chosen inputs
  (:meth:`ModelIR.evaluate`) and walks the causal graph (:meth:`ModelIR.graph`);
* a JavaScript compiler walks the expression trees (:mod:`Expr` subclasses).

Expression trees reproduce PySD's evaluation order exactly: PySD generates a
flat Python expression for every arithmetic structure and lets Python's
precedence rules group it; :func:`_fold` does the same grouping here, so a back
end that evaluates the tree node by node performs the same floating-point
operations in the same order as PySD.

Names
-----
Every variable has its model-file name (``Variable.name``, e.g.
``"Public Trust"``) and the Python identifier PySD gives it
(``Variable.py_name``, e.g. ``"public_trust"``). Expression references
(:class:`Ref`) use Python names; ``"time"`` is the simulation time. Internal
states created for stateful builtins (SMOOTH, DELAY, TREND ...) are named like
PySD's objects (``"_smooth_x"``, ``"_delay_x"`` ...).

Modules
-------
This module gathers the IR's public names; the code lives in
:mod:`pvsd.engine.ir_nodes` (expression nodes), :mod:`pvsd.engine.ir_model`
(:class:`ModelIR` and its parts), :mod:`pvsd.engine.ir_scalar` (builtins on
floats) and :mod:`pvsd.engine.ir_build` (building from PySD's abstract model).
"""

from __future__ import annotations

# re-exported: imported from here by ir_arrays_build, macros, scalarise and the benchmarks
from pvsd.engine.ir_build import _fold as _fold
from pvsd.engine.ir_build import _init_refs as _init_refs
from pvsd.engine.ir_build import _split_flows as _split_flows
from pvsd.engine.ir_build import build_ir
from pvsd.engine.ir_build import ir_from_file as ir_from_file
from pvsd.engine.ir_model import ModelIR, Stateful, Unsupported, Variable
from pvsd.engine.ir_nodes import (
    CONTROL_NAMES,
    SMALL_VENSIM,
    BinOp,
    Call,
    Expr,
    InlineLookup,
    LookupCall,
    LookupTable,
    Num,
    Ref,
    UnaryOp,
    references,
    walk,
)
from pvsd.engine.ir_scalar import SUPPORTED_FUNCS as SUPPORTED_FUNCS

__all__ = [
    "CONTROL_NAMES",
    "SMALL_VENSIM",
    "BinOp",
    "Call",
    "Expr",
    "InlineLookup",
    "LookupCall",
    "LookupTable",
    "ModelIR",
    "Num",
    "Ref",
    "Stateful",
    "UnaryOp",
    "Unsupported",
    "Variable",
    "build_ir",
    "references",
    "walk",
]
