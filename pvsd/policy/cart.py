"""CART (classification trees) for scenario discovery: the tree's case leaves as boxes.

A classification tree (scikit-learn's :class:`~sklearn.tree.DecisionTreeClassifier`,
Breiman et al. 1984) splits the inputs one threshold at a time. Each leaf is a box
(``lower < x <= upper`` on the inputs split on its path); the leaves whose majority
class is the case of interest are the boxes CART finds. Unlike PRIM's single nested
box, the case leaves are disjoint and together cover every member the tree calls a
case, so CART helps where the cases fall into several separate regions, or where a
limit is a sharp threshold that PRIM would approach in 5% peels. Each box gets the
same statistics as a PRIM box (coverage, density, mass, members) and the same
quasi-p-values per limit (Bryant & Lempert 2010).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from pvsd.errors import PvsdError
from pvsd.policy.prim import _limits

__all__ = ["CartResult", "cart"]

#: defaults of the spec's [settings] (and of :func:`cart`)
DEFAULT_MAX_DEPTH = 4
DEFAULT_MIN_LEAF = 0.01


@dataclass(frozen=True)
class CartResult:
    """The tree's leaves and the boxes of its case leaves.

    Attributes
    ----------
    leaves
        One row per leaf: ``leaf`` (tree node id), ``case`` (majority class is the case),
        ``coverage``, ``density``, ``mass``, ``n``, ``res_dim`` (restricted inputs),
        ``depth`` and ``rule`` (the limits in words).
    boxes
        Per case leaf (same order as the case rows of ``leaves``), the limits table of
        its restricted inputs (``min``, ``max``, ``range min``, ``range max``, ``qp min``,
        ``qp max``), as :attr:`pvsd.policy.PrimResult.box`.
    chosen
        Position in ``boxes`` of the chosen box: the highest coverage among the case
        leaves with at least ``min_density``, else the densest case leaf.
    names
        Input names.
    y_mean
        Share of cases of interest overall.
    tree_text
        The fitted tree in text (scikit-learn's ``export_text``).
    settings
        ``max_depth``, ``min_leaf`` (share of members), ``min_density``, ``seed``.
    """

    leaves: pd.DataFrame
    boxes: tuple[pd.DataFrame, ...]
    chosen: int
    names: tuple[str, ...]
    y_mean: float
    tree_text: str
    settings: dict

    @property
    def case_leaves(self) -> pd.DataFrame:
        """The rows of :attr:`leaves` that are boxes (majority class: the case), in box order."""
        return self.leaves[self.leaves["case"]].reset_index(drop=True)

    @property
    def box(self) -> pd.DataFrame:
        """Limits of the chosen box on its restricted inputs, with quasi-p-values."""
        return self.boxes[self.chosen]

    @property
    def stats(self) -> pd.Series:
        """Coverage, density, mass, members and restricted inputs of the chosen box."""
        row = self.case_leaves.iloc[self.chosen].copy()
        row["box"] = row["leaf"]
        return row

    @property
    def covered(self) -> float:
        """Share of all cases of interest inside any case leaf (the tree's recall)."""
        return float(self.case_leaves["coverage"].sum())

    @property
    def union(self) -> dict[str, float]:
        """Coverage, density and mass of all case leaves together (the leaves are disjoint)."""
        c = self.case_leaves
        n = float(c["n"].sum())
        hits = float((c["density"] * c["n"]).sum())
        total = n / float(self.leaves["n"].sum())
        return {"coverage": self.covered, "density": hits / n if n else 0.0, "mass": total}


def cart(
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    min_leaf: float = DEFAULT_MIN_LEAF,
    min_density: float = 0.8,
    seed: int | None = 0,
) -> CartResult:
    """Fit a classification tree and return its case leaves as boxes.

    Parameters
    ----------
    X
        Inputs, one row per member, numeric columns.
    y
        1 for a case of interest, 0 otherwise (booleans accepted).
    max_depth
        Depth of the tree (a box restricts at most this many limits); at least 1.
    min_leaf
        Smallest leaf, as a share of all members (0 < min_leaf < 0.5).
    min_density
        The chosen box is the case leaf with the highest coverage among those with at
        least this density (else the densest case leaf).
    seed
        ``random_state`` of the tree (ties between equally good splits).
    """
    try:
        from sklearn.tree import DecisionTreeClassifier, export_text
    except ImportError:  # pragma: no cover - pinned dependency
        raise PvsdError("CART needs scikit-learn: pip install 'scikit-learn>=1.4,<2' "
                        "(or use method = \"prim\").") from None
    if isinstance(max_depth, bool) or not isinstance(max_depth, (int, np.integer)) or max_depth < 1:
        raise PvsdError(f"CART max_depth must be a whole number of at least 1, got {max_depth!r}.")
    if isinstance(min_leaf, bool) or not isinstance(min_leaf, (int, float)) or not 0 < min_leaf < 0.5:
        raise PvsdError(f"CART min_leaf is the smallest leaf as a share of the members and must lie in "
                        f"(0, 0.5), got {min_leaf!r}.")
    names = tuple(str(c) for c in X.columns)
    A = X.to_numpy(dtype=float)
    yv = np.asarray(y, dtype=float).reshape(-1)
    if A.ndim != 2 or A.shape[0] != yv.size:
        raise PvsdError(f"CART needs one outcome per member: {A.shape[0]} members but {yv.size} outcomes.")
    if not np.isfinite(A).all():
        raise PvsdError("CART inputs contain non-finite values.")
    if not set(np.unique(yv)) <= {0.0, 1.0}:
        raise PvsdError("CART's outcome must be 0/1 (case of interest or not).")
    total = yv.sum()
    if total == 0:
        raise PvsdError("No case of interest in the ensemble: the outcome never happens, so there is "
                        "nothing for CART to find. Check the case definition or widen the uncertainties.")
    tree = DecisionTreeClassifier(max_depth=int(max_depth), min_samples_leaf=float(min_leaf),
                                  random_state=seed)
    tree.fit(A, yv.astype(int))
    t = tree.tree_
    classes = list(tree.classes_)
    full_lo, full_hi = A.min(axis=0), A.max(axis=0)
    leaf_of = tree.apply(A)

    rows, limits = [], []

    def walk(node: int, lo: np.ndarray, hi: np.ndarray, depth: int) -> None:
        left, right = t.children_left[node], t.children_right[node]
        if left == right:  # a leaf
            inb = leaf_of == node
            n = int(inb.sum())
            hits = float(yv[inb].sum())
            is_case = classes[int(np.argmax(t.value[node][0]))] == 1
            restricted = (lo > full_lo) | (hi < full_hi)
            rule = " and ".join(_rule(names[j], lo[j], hi[j], full_lo[j], full_hi[j])
                                for j in np.flatnonzero(restricted)) or "everywhere"
            rows.append({"leaf": int(node), "case": bool(is_case), "coverage": hits / total,
                         "density": hits / n if n else 0.0, "mass": n / len(yv), "n": n,
                         "res_dim": int(restricted.sum()), "depth": depth, "rule": rule})
            if is_case:
                limits.append(_limits(A, yv, (lo, hi), full_lo, full_hi, names,
                                      member=partial(_in_leaf, full_lo=full_lo), inb=inb))
            return
        j, thr = t.feature[node], t.threshold[node]
        hl = hi.copy()
        hl[j] = min(hi[j], thr)
        walk(left, lo, hl, depth + 1)
        lr = lo.copy()
        lr[j] = max(lo[j], thr)
        walk(right, lr, hi, depth + 1)

    walk(0, full_lo.copy(), full_hi.copy(), 0)
    leaves = pd.DataFrame(rows)
    case = leaves[leaves["case"]].reset_index(drop=True)
    settings = {"max_depth": int(max_depth), "min_leaf": float(min_leaf), "min_density": float(min_density),
                "seed": seed}
    if case.empty:
        raise PvsdError(
            f"CART found no leaf in which the case is the majority ({total:.0f} cases of {len(yv):,} members, "
            f"{total / len(yv):.1%}; max_depth {max_depth}, smallest leaf {min_leaf:g} of the members): the "
            "cases are too rare or too scattered for a tree this size. Allow a deeper tree (max_depth), "
            "smaller leaves (min_leaf), or use PRIM (method = \"prim\"), which looks for the densest box "
            "however rare the cases are.")
    ok = case[case["density"] >= min_density]
    chosen = int(ok.sort_values(["coverage", "density"], ascending=False).index[0]) if len(ok) else int(
        case["density"].idxmax())
    text = export_text(tree, feature_names=list(names), show_weights=True)
    return CartResult(leaves, tuple(limits), chosen, names, float(yv.mean()), text, settings)


def _rule(name: str, lo: float, hi: float, full_lo: float, full_hi: float) -> str:
    if lo > full_lo and hi < full_hi:
        return f"{lo:.4g} < {name} <= {hi:.4g}"
    return f"{name} > {lo:.4g}" if lo > full_lo else f"{name} <= {hi:.4g}"


def _in_leaf(A: np.ndarray, lo: np.ndarray, hi: np.ndarray, full_lo: np.ndarray) -> np.ndarray:
    # a tree's membership: lo < x <= hi, no lower limit where lo is the sample minimum
    return np.all(np.where(lo > full_lo, A > lo, True) & (A <= hi), axis=1)
