"""The JavaScript runtime every compiled model carries, and running compiled models under Node.js.

:data:`_RUNTIME` holds the helper functions (numpy / PySD semantics in scalar form)
that :func:`pvsd.embed.js_backend.compile_js` puts in front of each model;
:func:`run_in_node` runs a compiled model outside a browser (tests, checks).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pvsd.errors import PvsdError

if TYPE_CHECKING:
    from pvsd.embed.js_backend import JSModel

# The runtime shared by every compiled model (numpy / PySD semantics in scalar form).
_RUNTIME = r"""
const SMALL = 1e-6, RPREC = 1e-5;
function pymod(a, b) {  // Python's float modulo (result has the sign of b)
  let m = a % b;
  if (m !== 0) { if ((b < 0) !== (m < 0)) m += b; } else { m = b < 0 ? -0 : 0; }
  return m;
}
function T(x) { return x !== 0; }  // numpy truthiness (NaN is true)
function interp(x, xs, ys) {  // numpy.interp (hold the end values)
  const n = xs.length;
  if (x !== x) return x;
  if (n === 1) return x < xs[0] ? ys[0] : (x > xs[0] ? ys[0] : ys[0]);
  if (x < xs[0]) return ys[0];
  if (x > xs[n - 1]) return ys[n - 1];
  if (x === xs[n - 1]) return ys[n - 1];
  let lo = 0, hi = n - 1;  // xs[lo] <= x < xs[hi]
  while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (xs[mid] <= x) lo = mid; else hi = mid; }
  if (xs[lo] === x) return ys[lo];
  const slope = (ys[lo + 1] - ys[lo]) / (xs[lo + 1] - xs[lo]);
  let r = slope * (x - xs[lo]) + ys[lo];
  if (r !== r) {
    r = slope * (x - xs[lo + 1]) + ys[lo + 1];
    if (r !== r && ys[lo] === ys[lo + 1]) r = ys[lo];
  }
  return r;
}
function lookup(x, xs, ys, mode) {  // PySD's Lookups for floats
  const n = xs.length;
  if (mode === 2) {  // hold_backward
    if (x !== x) return NaN;
    if (x > xs[n - 1]) return ys[n - 1];
    let k = 0;
    while (k < n && xs[k] <= x) k++;
    return ys[Math.min(Math.max(k - 1, 0), n - 1)];
  }
  let r = interp(x, xs, ys);
  if (mode === 1 && n > 1) {  // extrapolate
    if (x > xs[n - 1]) r = ys[n - 1] + ((ys[n - 1] - ys[n - 2]) / (xs[n - 1] - xs[n - 2])) * (x - xs[n - 1]);
    if (x < xs[0]) r = ys[0] + ((ys[1] - ys[0]) / (xs[1] - xs[0])) * (x - xs[0]);
  }
  return r;
}
function powReal(a, b) {  // Python's float power, real part of a complex result (PySD arrays)
  const r = Math.pow(a, b);
  if (r === r || !(a < 0) || !Number.isFinite(b)) return r;
  return Math.pow(-a, b) * Math.cos(Math.PI * b);
}
function nansum() { let s = 0; for (const v of arguments) if (v === v) s += v; return s; }
function nanprod() { let s = 1; for (const v of arguments) if (v === v) s *= v; return s; }
function nanmin() { let s = NaN; for (const v of arguments) if (v === v && !(s <= v)) s = v; return s; }
function nanmax() { let s = NaN; for (const v of arguments) if (v === v && !(s >= v)) s = v; return s; }
function expandP(P, A) {  // arrayed parameters (number, nested array, time function) -> elements
  const out = Object.assign({}, P);
  for (const k in A) {
    if (!(k in P)) continue;
    const v = P[k], el = A[k];
    delete out[k];
    if (typeof v === 'number') { for (const e of el) out[e] = v; }
    else if (Array.isArray(v)) { const f = v.flat(Infinity); for (let i = 0; i < el.length; i++) out[el[i]] = f[i]; }
    else if (v && typeof v === 'object') {
      for (let i = 0; i < el.length; i++)
        out[el[i]] = {x: v.x, y: v.y.map(r => Array.isArray(r) ? r.flat(Infinity)[i] : r)};
    }
  }
  return out;
}
function xidz(a, b, x) { return Math.abs(b) < SMALL ? x : a / b; }
function zidz(a, b) { return Math.abs(b) < SMALL ? 0 : a / b; }
function quantum(a, b) { return b < SMALL ? a : b * Math.trunc(a / b); }
function pulse(t, dt, start, repeat, width, magnitude, end) {  // null = not given
  if (width === null) width = 0.5 * dt;
  const out = magnitude !== null ? magnitude / dt : 1.0;
  const single = (start - SMALL <= t && t < start + width) ? out : 0.0;
  if (repeat === null) return single;
  if (repeat === 0) return single;
  const active = start <= t && (end === null || t < end);
  return active ? (pymod(t - start + SMALL, repeat) < width ? out : 0.0) : 0.0;
}
function cp(a) { return Array.isArray(a) ? a.slice() : a; }
function axpy(s0, k, h) {  // s0 + k * h (RK4 stage state)
  if (!Array.isArray(s0)) return s0 + k * h;
  const r = new Array(s0.length); for (let j = 0; j < s0.length; j++) r[j] = s0[j] + k[j] * h; return r;
}
function comb(k1, k2, k3, k4) {  // (k1 + 2 k2 + 2 k3 + k4) / 6
  if (!Array.isArray(k1)) return (k1 + 2.0 * k2 + 2.0 * k3 + k4) / 6.0;
  const r = new Array(k1.length);
  for (let j = 0; j < k1.length; j++) r[j] = (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]) / 6.0;
  return r;
}
function delayOrder(order, dt, delayTime) {
  let k = Math.trunc(order);
  while (k * dt > delayTime) k -= 1;
  return k;
}
function timeGrid(t0, tf, dt, sp, saveTimes) {  // pvsd.engine.numpy_backend.time_grid
  const times = [t0];
  let t = t0;
  while (t + dt * RPREC < tf) { t = t + dt; times.push(t); }
  const prec = dt * RPREC, save = new Array(times.length).fill(false);
  if (saveTimes) {
    const pend = saveTimes.slice().sort((a, b) => a - b);
    let k = 0;
    for (let i = 0; i < times.length && k < pend.length; i++) {
      if (Math.abs(times[i] - pend[k]) <= 1e-8 + prec * Math.abs(pend[k])) { save[i] = true; k++; }
      else { while (k < pend.length && times[i] > pend[k]) k++; }
    }
  } else {
    for (let i = 0; i < times.length; i++) {
      const d = times[i] - t0;
      save[i] = pymod(d, sp) < prec || pymod(-d, sp) < prec;
    }
  }
  return {times: times, save: save};
}
"""


# ----------------------------------------------------------------------------
# Running compiled models under Node.js (tests, checks)
# ----------------------------------------------------------------------------

_NODE_MAIN = r"""
const M = %s;
let input = '';
process.stdin.on('data', c => { input += c; });
process.stdin.on('end', () => {
  const jobs = JSON.parse(input);
  const fmt = v => Number.isFinite(v) ? String(v) : (v !== v ? 'NaN' : (v > 0 ? 'Infinity' : '-Infinity'));
  const parts = [];
  for (const job of jobs) {
    const r = M.simulate(job.params, job.opts);
    const f = v => Array.isArray(v) ? '[' + v.map(f).join(',') + ']' : fmt(v);
    const vals = Object.keys(r.values).map(k => JSON.stringify(k) + ':[' + r.values[k].map(f).join(',') + ']');
    parts.push('{"time":[' + r.time.map(fmt).join(',') + '],"values":{' + vals.join(',') + '}}');
  }
  process.stdout.write('[' + parts.join(',') + ']');
});
"""


def node_available() -> str | None:
    """Path of the ``node`` executable, or None."""
    return shutil.which("node") or shutil.which("nodejs")


def run_in_node(
    js: JSModel,
    jobs: Sequence[Mapping[str, Any]],
    timeout: float = 120.0,
) -> list[dict[str, Any]]:
    """Run compiled simulations under Node.js.

    Parameters
    ----------
    js
        The compiled model.
    jobs
        One mapping per run with ``params`` (Python name -> number or
        ``{"x": [...], "y": [...]}``) and ``opts`` (``outputs``, ``save_times``).
    timeout
        Seconds before giving up.

    Returns
    -------
    list of dict
        Per job, ``{"time": [...], "values": {py_name: [...]}}``.
    """
    exe = node_available()
    if exe is None:
        raise PvsdError("Node.js is not installed (Debian package 'nodejs'); it is needed to run "
                        "the compiled JavaScript outside a browser.")
    program = _NODE_MAIN % js.source
    payload = json.dumps([{"params": dict(j.get("params", {})), "opts": dict(j.get("opts", {}))}
                          for j in jobs])
    with tempfile.TemporaryDirectory(prefix="pvsd-node-") as tmp:
        script = Path(tmp) / "run.js"
        script.write_text(program, encoding="utf-8")
        proc = subprocess.run([exe, str(script)], input=payload, capture_output=True, text=True,
                              timeout=timeout, check=False)
    if proc.returncode != 0:
        raise PvsdError(f"Node.js failed running the compiled model: {proc.stderr.strip()[:2000]}")
    return json.loads(proc.stdout)
