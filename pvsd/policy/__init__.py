"""Policy design: search the lever space (optimise, robustly) and discover where a policy fails.

* :func:`optimize` - levers with bounds (constants, steps, ramps), objectives, constraints;
  scipy's differential evolution for one objective, pymoo's NSGA-II for a Pareto front; every
  generation runs as one vectorised ensemble; optionally over an uncertainty ensemble.
* :func:`discover` - scenario discovery with PRIM (or CART) over an ensemble of uncertainties.
"""

from __future__ import annotations

from pvsd.policy.cart import CartResult, cart
from pvsd.policy.discover import DiscoveryResult, DiscoverySpec, discover
from pvsd.policy.optimize import ConstraintError, optimize
from pvsd.policy.prim import PrimResult, prim
from pvsd.policy.result import OptimizationResult
from pvsd.policy.spec import Constraint, Lever, Objective, PolicySpec, load_policy_spec

__all__ = [
    "CartResult",
    "Constraint",
    "ConstraintError",
    "DiscoveryResult",
    "DiscoverySpec",
    "Lever",
    "Objective",
    "OptimizationResult",
    "PolicySpec",
    "PrimResult",
    "cart",
    "discover",
    "load_policy_spec",
    "optimize",
    "prim",
]
