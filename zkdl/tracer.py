"""Quantized training tracer: exact integer SGD of a bias-free ReLU MLP, recorded per step.

This is the witness side of FAC4DNN (DESIGN.md section 4). Every tensor is int64 with
``R`` fractional bits; every relation below holds *exactly* on the recorded integers.

Per step ``t`` (batch of ``B`` rows from the public schedule :mod:`zkdl.schedule`),
layers ``l = 1..L``, ``d_0`` = features, ``d_L`` = classes:

=================  ============  ==========================================================
name               shape         meaning / relation
=================  ============  ==========================================================
``batch``          (B,)          dataset row indices = ``batch_indices(batch_seed, N, B, t)``
``labels``         (B,)          class ids of those rows
``Y``              (B, d_L)      one-hot targets times 2^R
``A_0``            (B, d_0)      input batch = X[batch]
``W_l``            (d_l-1, d_l)  weights before the step, l = 1..L
``Zp_l``           (B, d_l)      Z' = (A_l-1 W_l + 2^(R-1)) >> R, l = 1..L
``remZ_l``         (B, d_l)      A_l-1 W_l - 2^R Z'  in [-2^(R-1), 2^(R-1))
``S_l``            (B, d_l)      1 where Z'_l < 0 else 0, l = 1..L-1
``A_l``            (B, d_l)      (1 - S_l) * Z'_l, l = 1..L-1
``G_Z_L``          (B, d_L)      Z'_L - Y (gradient of 0.5 ||out - Y||^2, scaled 2^R)
``G_Ap_l``         (B, d_l)      G_A' = round(G_Z_l+1 W_l+1^T / 2^R), l = 1..L-1
``remGA_l``        (B, d_l)      G_Z_l+1 W_l+1^T - 2^R G_A'  in [-2^(R-1), 2^(R-1))
``G_Z_l``          (B, d_l)      (1 - S_l) * G_A'_l, l = 1..L-1 (same S as forward)
``dW_l``           (d_l-1, d_l)  round(a * (A_l-1^T G_Z_l) / 2^(R+k)), l = 1..L
``remW_l``         (d_l-1, d_l)  a A_l-1^T G_Z_l - 2^(R+k) dW_l in [-2^(R+k-1), 2^(R+k-1))
``W_next_l``       (d_l-1, d_l)  W_l - dW_l = weights before step t+1
=================  ============  ==========================================================

"round" is round half up everywhere. Bounds: Zp, A, G_Ap, G_Z, W, W_next (and the input
batch) lie in [-2^(Q-1), 2^(Q-1)); dW in [-2^(update_bits-1), 2^(update_bits-1)).
A violation raises :class:`~zkdl.errors.OverflowBoundError` naming step, layer, tensor,
bound and remedy; int64 overflow of an intermediate (a * G_W, a matmul) is reported the
same way. Nothing wraps silently. The learning rate is eta = a / 2^k (``lr_num``,
``lr_shift``) on the gradient of the summed loss (the 1/B mean is folded into eta).
Metrics per step (floats, for people): ``loss = 0.5 * sum(G_Z_L^2) / (B 2^(2R))`` and the
batch accuracy of argmax(Z'_L) (first maximum on ties).

Initial weights (:func:`init_weights`): He-uniform, ``W_l`` uniform integers in
``[-M_l, M_l]`` with ``M_l = floor(sqrt(6 / d_l-1) * 2^R)`` (the last layer with gain 1/2),
drawn from SHAKE-256(tag, init_seed, dims, R, l) words reduced mod 2M+1, so they can be
recomputed from the public seed on any platform.

Storage (:meth:`Run.save`): ``manifest.json`` (format, config, digests, per-step metrics
and files), ``data.npz`` (quantized dataset), ``weights_initial.npz``,
``weights_final.npz`` (arrays ``W_1..W_L``), ``steps/step_%08d.npz`` (every tensor above
except ``W_next_l``, which is rebuilt as ``W_l - dW_l`` on load). Files are written to a
temporary name and renamed.

Memory: a run keeps only metrics and weight checkpoints (initial, final, last replay),
unless ``keep_in_memory=True``; with ``out_dir`` each step is spilled to disk as it is
computed. :meth:`Run.step` / :meth:`Run.window` read memory, then disk, and otherwise
replay the (deterministic) training from the nearest checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from zkdl import quant
from zkdl.config import TrainConfig
from zkdl.data import Dataset, shake_words, synthetic
from zkdl.errors import ConfigError, DataError, OverflowBoundError
from zkdl.schedule import batch_indices

__all__ = ["train", "Run", "StepTrace", "init_weights", "predict", "accuracy", "loss_accuracy", "initial_state", "effective_weights",
           "effective_biases",
           "state_digest", "as_state",
           "weights_digest", "tensor_names", "TRACE_FORMAT"]

TRACE_FORMAT = "zkdl-trace/v1"
Weights = list  # list of int64 arrays, index l-1 holds W_l

_REMEDY_VALUE = ("lower the learning rate (--lr, or --lr-num / --lr-shift: smaller lr_num or larger lr_shift), "
                 "use a smaller R (--R), or a larger Q (--Q)")
_REMEDY_UPDATE = ("lower the learning rate (--lr, or --lr-num / --lr-shift: smaller lr_num or larger lr_shift) "
                  "or raise update_bits (--update-bits)")


def tensor_names(L: int) -> list[str]:
    """Names of the tensors recorded per step for an L-layer network (see module doc)."""
    names = ["batch", "labels", "Y", "A_0"]
    for l in range(1, L + 1):
        names += [f"W_{l}", f"Zp_{l}", f"remZ_{l}"]
        if l < L:
            names += [f"S_{l}", f"A_{l}", f"G_Ap_{l}", f"remGA_{l}"]
        names += [f"G_Z_{l}", f"dW_{l}", f"remW_{l}", f"W_next_{l}"]
    return names


# ----------------------------------------------------------------------------- weights
def init_weights(config: TrainConfig) -> Weights:
    """Deterministic He-uniform initial weights (see module docstring)."""
    dims = config.dims()
    L = len(dims) - 1
    out = []
    for l in range(1, L + 1):
        fan_in, fan_out = dims[l - 1], dims[l]
        gain = 0.5 if l == L else 1.0
        M = int(math.floor(gain * math.sqrt(6.0 / fan_in) * (1 << config.R)))
        tag = b"zkdl/init/v1|" + json.dumps([config.init_seed, list(dims), config.R, l]).encode()
        w = shake_words(tag, fan_in * fan_out)
        vals = (w % np.uint64(2 * M + 1)).astype(np.int64) - M
        out.append(vals.reshape(fan_in, fan_out))
    return out


def weights_digest(weights: Weights) -> str:
    h = hashlib.sha256(b"zkdl/weights/v1")
    h.update(len(weights).to_bytes(4, "big"))
    for w in weights:
        h.update(int(w.shape[0]).to_bytes(8, "big") + int(w.shape[1]).to_bytes(8, "big"))
        h.update(np.ascontiguousarray(w, dtype="<i8").tobytes())
    return h.hexdigest()


# ----------------------------------------------------------------------------- errors
def _first_out(arr: np.ndarray, lo: int, hi: int):
    bad = np.argwhere((arr < lo) | (arr > hi))
    if len(bad) == 0:
        return None, None
    idx = tuple(int(i) for i in bad[0])
    return idx, int(arr[idx])


def _overflow(t: int, l: int, tensor: str, arr: np.ndarray | None, bits: int, remedy: str,
              detail: str = "") -> OverflowBoundError:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    where = ""
    if arr is not None:
        idx, v = _first_out(arr, lo, hi)
        if idx is not None:
            where = f" (value {v} at index {idx})"
    return OverflowBoundError(
        f"step {t}, layer {l}: tensor {tensor} leaves its {bits}-bit signed bound "
        f"[-2^{bits - 1}, 2^{bits - 1}){where}{detail}; remedy: {remedy}")


def exact_product(t: int, l: int, name: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b in exact int64; an OverflowBoundError naming step t, layer l and ``name``
    where the product does not fit (the methods' tracer steps)."""
    try:
        return quant.exact_matmul(np.ascontiguousarray(a), np.ascontiguousarray(b))
    except OverflowError:
        raise _overflow(t, l, name, None, 63, _REMEDY_VALUE, detail=": the product does not fit int64") from None


def check_bits(t: int, l: int, name: str, x: np.ndarray, bits: int, remedy: str = _REMEDY_VALUE) -> np.ndarray:
    """``x``, once every entry is checked to be a signed ``bits``-bit value (an
    OverflowBoundError naming the first one outside otherwise)."""
    lim = 1 << (bits - 1)
    if x.size and (x.min() < -lim or x.max() >= lim):
        raise _overflow(t, l, name, x, bits, remedy)
    return x


# ----------------------------------------------------------------------------- step
class _State:
    """The training state before a step: the weights ``W`` (with float64 copies and max |W|,
    for matmul bounds; None for a method that never forms them) and ``extra``, a method's
    other per-layer state lists by name (momentum, adapters, a frozen base). A method's
    state dict (:meth:`as_dict`) maps each name (``"W"`` included) to one int64 array per
    layer; the step trace records entry l of name k as ``{k}_{l}``."""

    __slots__ = ("W", "Wf", "Wmax", "extra")

    def __init__(self, W, Wf=None, Wmax=None, extra=None):
        self.W = W
        self.Wf = None if W is None else (Wf if Wf is not None else [w.astype(np.float64) for w in W])
        self.Wmax = None if W is None else (Wmax if Wmax is not None else [quant.abs_max(w) for w in W])
        self.extra = dict(extra or {})

    def as_dict(self) -> dict:
        return {**({} if self.W is None else {"W": self.W}), **self.extra}

    @classmethod
    def from_dict(cls, state: dict) -> "_State":
        return cls(state.get("W"), extra={k: v for k, v in state.items() if k != "W"})


def as_state(state) -> dict:
    """A state dict from a state dict or a plain list of weights (``{"W": list}``)."""
    if isinstance(state, dict):
        return {str(k): [np.asarray(w, dtype=np.int64) for w in v] for k, v in state.items()}
    return {"W": [np.asarray(w, dtype=np.int64) for w in state]}


def state_digest(state: dict) -> str:
    """Digest of a state dict (for a weights-only state: :func:`weights_digest`)."""
    if set(state) == {"W"}:
        return weights_digest(state["W"])
    h = hashlib.sha256(b"zkdl/state/v1")
    for k in sorted(state):
        h.update(k.encode() + b"\0" + bytes.fromhex(weights_digest(state[k])))
    return h.hexdigest()


def _row_abs_max(a: np.ndarray) -> int:
    return int(np.abs(a).sum(axis=1).max()) if a.size else 0


def _mm(t, l, tensor, a, af, b, bf, bound):
    """a @ b exactly: float64 BLAS if bound < 2^53 else exact int64 fallback."""
    if bound < quant.FLOAT_EXACT:
        return af @ bf
    try:
        return quant.exact_matmul(a, b)
    except OverflowError:
        raise OverflowBoundError(
            f"step {t}, layer {l}: the product for {tensor} does not fit int64; remedy: "
            f"{_REMEDY_VALUE}") from None


def _method_hook(method: str, params: dict | None, attr: str):
    """(full parameters, the callable a method names in ``attr``)."""
    import importlib

    from zkdl.circuits.builder import method_class
    from zkdl.circuits.ir import CircuitError
    try:
        cls = method_class(method)
        full = cls(params).params
    except CircuitError as e:
        raise ConfigError(str(e)) from None
    fn = getattr(cls, attr, None)
    if isinstance(fn, str):
        mod, _, name = fn.partition(":")
        fn = getattr(importlib.import_module(mod), name, None)
    if not callable(fn):
        raise ConfigError(f"training method {method!r} has no {attr}")
    return full, fn


def initial_state(config: TrainConfig, method: str = "sgd_mlp", params: dict | None = None) -> dict:
    """The initial state dict of training ``method`` (its ``initial_state`` hook, which
    returns a state dict or a list of weights; the built-in and the default:
    :func:`init_weights`, as ``{"W": weights}``)."""
    full, fn = _method_hook(method, params, "initial_state")
    return as_state(fn(config, **full) if fn is not init_weights else init_weights(config))


def effective_weights(config: TrainConfig, state: dict, method: str = "sgd_mlp",
                      params: dict | None = None) -> Weights:
    """The weights a state stands for (what prediction and accuracy use): the method's
    ``effective_weights(config, state, **params)`` hook if it has one, else ``state["W"]``."""
    from zkdl.circuits.builder import method_class
    fn = getattr(method_class(method), "effective_weights", None)
    if fn is None:
        return state["W"]
    full, fn = _method_hook(method, params, "effective_weights")
    return fn(config, state, **full)


def effective_biases(config: TrainConfig, state: dict, method: str = "sgd_mlp",
                     params: dict | None = None):
    """The per-layer bias rows a state stands for (1 x d_l int64 at scale 2^R), from the
    method's ``effective_biases`` hook, or None for a bias-free method."""
    from zkdl.circuits.builder import method_class
    if getattr(method_class(method), "effective_biases", None) is None:
        return None
    full, fn = _method_hook(method, params, "effective_biases")
    return fn(config, state, **full)


def step_function(method: str, params: dict | None = None) -> tuple[dict, Callable]:
    """(the method's full parameters, its exact-integer tracer step ``step(config, data,
    state, t) -> (tensors, next state, loss, accuracy)``), the tensors named as the method
    circuit's sources; the step is the method's ``tracer_step(config, data, state, t,
    **params)``. A method names its step in ``tracer_step`` (a callable, or
    ``"module:function"`` imported here, so that the method's circuit module stays
    importable by the verifier); the built-in ``sgd_mlp``'s is :func:`_step`."""
    full, fn = _method_hook(method, params, "tracer_step")
    if not full:
        return full, fn
    return full, lambda cfg, data, st, t: fn(cfg, data, st, t, **full)


def _step(cfg: TrainConfig, data: Dataset, st: _State, t: int):
    """One exact SGD step. Returns (tensors, next state, loss, accuracy)."""
    T, A, Af, GZ, GZf = forward_backward(cfg, data, st, t)
    nxt = _sgd_update(cfg, st, t, T, A, Af, GZ, GZf)
    return (T, nxt) + _metrics(cfg, T, GZf)


def _metrics(cfg: TrainConfig, T: dict, GZf) -> tuple[float, float]:
    """(loss, batch accuracy) of a step: 0.5 sum(G_Z_L^2) / (B 2^(2R)), argmax(Z'_L) = label."""
    L, B, R = cfg.layers, cfg.batch_size, cfg.R
    out = GZf[L]
    loss = 0.5 * float(np.sum(out * out)) / (B * float(1 << (2 * R)))
    return loss, float(np.mean(np.argmax(T[f"Zp_{L}"], axis=1) == T["labels"]))


def batch_inputs(cfg: TrainConfig, data: Dataset, t: int) -> dict:
    """The step's public batch and inputs: ``batch`` (row indices from the schedule),
    ``labels``, ``Y`` (one-hot times 2^R) and ``A_0`` (the features, checked against the
    Q-bit bound)."""
    B, R, Q = cfg.batch_size, cfg.R, cfg.Q
    idx = np.asarray(batch_indices(cfg.batch_seed, data.n_samples, B, t), dtype=np.int64)
    labels = data.y[idx]
    A0 = data.X[idx]
    if A0.size and (A0.min() < -(1 << (Q - 1)) or A0.max() >= 1 << (Q - 1)):
        raise _overflow(t, 0, "A_0 (input batch)", A0, Q,
                        "the data features exceed the Q-bit bound: use a smaller R (--R) or a larger Q (--Q)")
    Y = np.zeros((B, cfg.n_classes), dtype=np.int64)
    Y[np.arange(B), labels] = 1 << R
    return {"batch": idx, "labels": labels, "Y": Y, "A_0": A0}


def forward_backward(cfg: TrainConfig, data: Dataset, st: _State, t: int):
    """The forward and backward pass of step t with the weights ``st.W`` (exact, bounds
    checked): (tensors, activations A[0..L-1], their float64 copies, G_Z[1..L], float64
    copies) -- every tensor of the module docstring up to G_Z (W_l included)."""
    L, R, Q = cfg.layers, cfg.R, cfg.Q
    lo, hi = -(1 << (Q - 1)), (1 << (Q - 1)) - 1
    W, Wf, Wmax = st.W, st.Wf, st.Wmax
    T = batch_inputs(cfg, data, t)
    A0, labels = T["A_0"], T["labels"]
    A, Af = [A0], [A0.astype(np.float64)]
    S = [None] * (L + 1)
    GZ, GZf = [None] * (L + 1), [None] * (L + 1)
    for l in range(1, L + 1):
        a = A[l - 1]
        Z = _mm(t, l, f"Z_{l} = A_{l-1} W_{l}", a, Af[l - 1], W[l - 1], Wf[l - 1],
                _row_abs_max(a) * Wmax[l - 1])
        n, m = Z.shape
        Zp = np.empty((n, m), np.int64)
        rem = np.empty((n, m), np.int64)
        if l < L:
            Sl = np.empty((n, m), np.int64)
            Al = np.empty((n, m), np.int64)
            Alf = np.empty((n, m), np.float64)
            bad = quant.rescale_relu(Z, R, lo, hi, Zp, rem, Sl, Al, Alf)
            if bad:
                raise _overflow(t, l, f"Zp_{l}", Zp, Q, _REMEDY_VALUE)
            S[l] = Sl
            A.append(Al)
            Af.append(Alf)
            T[f"S_{l}"] = Sl
            T[f"A_{l}"] = Al
        else:
            g = np.empty((n, m), np.int64)
            gf = np.empty((n, m), np.float64)
            bad_z, bad_g = quant.rescale_output(Z, R, labels, 1 << R, lo, hi, Zp, rem, g, gf)
            if bad_z:
                raise _overflow(t, l, f"Zp_{l}", Zp, Q, _REMEDY_VALUE)
            if bad_g:
                raise _overflow(t, l, f"G_Z_{l}", g, Q, _REMEDY_VALUE)
            GZ[L], GZf[L] = g, gf
        T[f"Zp_{l}"] = Zp
        T[f"remZ_{l}"] = rem
    # backward
    for l in range(L - 1, 0, -1):
        g = GZ[l + 1]
        GA = _mm(t, l, f"G_A_{l} = G_Z_{l+1} W_{l+1}^T", g, GZf[l + 1], W[l].T, Wf[l].T,
                 _row_abs_max(g) * Wmax[l])
        n, m = GA.shape
        GAp = np.empty((n, m), np.int64)
        rem = np.empty((n, m), np.int64)
        gz = np.empty((n, m), np.int64)
        gzf = np.empty((n, m), np.float64)
        bad = quant.rescale_mask(GA, R, S[l], lo, hi, GAp, rem, gz, gzf)
        if bad:
            raise _overflow(t, l, f"G_Ap_{l}", GAp, Q, _REMEDY_VALUE)
        T[f"G_Ap_{l}"] = GAp
        T[f"remGA_{l}"] = rem
        GZ[l], GZf[l] = gz, gzf
    T["A_0"] = A0
    for l in range(1, L + 1):
        T[f"W_{l}"] = W[l - 1]
        T[f"G_Z_{l}"] = GZ[l]
    return T, A, Af, GZ, GZf


def _sgd_update(cfg: TrainConfig, st: _State, t: int, T: dict, A, Af, GZ, GZf) -> _State:
    """dW = round(a A^T G_Z / 2^(R+k)), W' = W - dW for every layer (into ``T``)."""
    L, R, Q = cfg.layers, cfg.R, cfg.Q
    lo, hi = -(1 << (Q - 1)), (1 << (Q - 1)) - 1
    W = st.W
    a_lr, s = cfg.lr_num, R + cfg.lr_shift
    glim = (1 << 62) // a_lr
    ub = cfg.update_bits
    dlo, dhi = -(1 << (ub - 1)), (1 << (ub - 1)) - 1
    nW, nWf, nWmax = [], [], []
    for l in range(1, L + 1):
        a, g = A[l - 1], GZ[l]
        bound = min(quant.abs_max(a) * _row_abs_max(g.T), _row_abs_max(a.T) * quant.abs_max(g))
        GW = _mm(t, l, f"G_W_{l} = A_{l-1}^T G_Z_{l}", a.T, Af[l - 1].T, g, GZf[l], bound)
        shape = W[l - 1].shape
        dW = np.empty(shape, np.int64)
        remW = np.empty(shape, np.int64)
        Wn = np.empty(shape, np.int64)
        Wnf = np.empty(shape, np.float64)
        stats = np.empty((shape[0], 4), np.int64)
        quant.sgd_update(W[l - 1], GW, a_lr, s, glim, dlo, dhi, lo, hi, dW, remW, Wn, Wnf, stats)
        if stats[:, 0].any():
            raise _overflow(t, l, f"a * G_W_{l}", None, 63, _REMEDY_VALUE,
                            detail=f": a * (A_{l-1}^T G_Z_{l}) would overflow int64")
        if stats[:, 1].any():
            raise _overflow(t, l, f"dW_{l}", dW, ub, _REMEDY_UPDATE)
        if stats[:, 2].any():
            raise _overflow(t, l, f"W_next_{l}", Wn, Q, _REMEDY_VALUE)
        T[f"dW_{l}"] = dW
        T[f"remW_{l}"] = remW
        T[f"W_next_{l}"] = Wn
        nW.append(Wn)
        nWf.append(Wnf)
        nWmax.append(int(stats[:, 3].max()) if shape[0] else 0)
    return _State(nW, nWf, nWmax)


# ----------------------------------------------------------------------------- inference
def predict(weights: Weights, X: np.ndarray, R: int, biases=None) -> np.ndarray:
    """Quantized forward pass (same rounding as training, no bound checks): Z'_L as int64,
    Z'_l = round((A_{l-1} W_l + 2^R b_l) / 2^R) with ``biases`` b_l (or none)."""
    a = np.asarray(X, dtype=np.int64)
    L = len(weights)
    for l in range(1, L + 1):
        w = weights[l - 1]
        Z = quant.exact_matmul(a, w)
        if biases is not None:
            Z = Z + (np.asarray(biases[l - 1], dtype=np.int64).reshape(1, -1) << R)
        Zp, _ = quant.round_shift(Z, R)
        a = np.maximum(Zp, 0) if l < L else Zp
    return a


def accuracy(weights: Weights, data: Dataset, biases=None) -> float:
    """Fraction of dataset rows whose argmax(Z'_L) equals the label."""
    return float(np.mean(np.argmax(predict(weights, data.X, data.frac_bits, biases), axis=1) == data.y))


def loss_accuracy(weights: Weights, data: Dataset, biases=None) -> tuple[float, float]:
    """(loss, accuracy) of the weights on every row of ``data``, the training step's
    metrics over the whole set: ``0.5 * sum((Z'_L - 2^R onehot)^2) / (N 2^(2R))`` and the
    fraction of rows whose argmax(Z'_L) (first maximum on ties) is the label."""
    out = predict(weights, data.X, data.frac_bits, biases)
    if out.shape[1] != data.n_classes:
        raise DataError(f"{data.name}: {data.n_classes} classes, the model has {out.shape[1]} outputs")
    G = out.astype(np.float64)
    G[np.arange(data.n_samples), data.y] -= float(1 << data.frac_bits)
    loss = 0.5 * float(np.sum(G * G)) / (data.n_samples * float(1 << (2 * data.frac_bits)))
    return loss, float(np.mean(np.argmax(out, axis=1) == data.y))


# ----------------------------------------------------------------------------- trace
@dataclass
class StepTrace:
    """The recorded tensors of one step (names in the module docstring) and its metrics."""

    t: int
    tensors: dict
    loss: float
    accuracy: float

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, tuple):
            name, l = key
            key = f"{name}_{l}"
        return self.tensors[key]

    def __contains__(self, key) -> bool:
        return key in self.tensors

    @property
    def layers(self) -> int:
        return sum(1 for k in self.tensors if k.startswith("dW_"))


def _atomic_write(path: str, write: Callable) -> None:
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _save_weights(path: str, state: dict) -> None:
    """A state dict as ``{name}_{l}`` arrays (SGD's: ``W_1..W_L``)."""
    _atomic_write(path, lambda f: np.savez(f, **{f"{k}_{l + 1}": w for k, ws in state.items()
                                                 for l, w in enumerate(ws)}))


def _load_weights(path: str, L: int) -> dict:
    with np.load(path, allow_pickle=False) as z:
        names = sorted({f.rsplit("_", 1)[0] for f in z.files})
        try:
            return {k: [z[f"{k}_{l}"].astype(np.int64) for l in range(1, L + 1)] for k in names}
        except KeyError as e:
            raise DataError(f"{path}: state array {e} missing") from None


def _save_step(path: str, st: StepTrace, constant=()) -> None:
    # W_next_l = W_l - dW_l is rebuilt on load where the step has dW_l (a method whose
    # layer has no update, e.g. a frozen one, keeps its W_next_l); the method's constant
    # state (``constant``: names, e.g. a frozen base) is put back by Run._load_step
    arrays = {k: v for k, v in st.tensors.items()
              if not (k.startswith("W_next_") and "dW_" + k[len("W_next_"):] in st.tensors)
              and not (k.rsplit("_", 1)[0] in constant and k.rsplit("_", 1)[-1].isdigit())}
    arrays["t"] = np.int64(st.t)
    arrays["loss"] = np.float64(st.loss)
    arrays["accuracy"] = np.float64(st.accuracy)
    _atomic_write(path, lambda f: np.savez(f, **arrays))


def _load_step(path: str) -> StepTrace:
    with np.load(path, allow_pickle=False) as z:
        T = {k: z[k] for k in z.files if k not in ("t", "loss", "accuracy")}
        t, loss, acc = int(z["t"]), float(z["loss"]), float(z["accuracy"])
    for k in [k for k in T if k.startswith("dW_")]:
        l = k[len("dW_"):]
        T.setdefault(f"W_next_{l}", T[f"W_{l}"] - T[k])
    return StepTrace(t, T, loss, acc)


def _step_file(t: int) -> str:
    return os.path.join("steps", f"step_{t:08d}.npz")


class Run:
    """A recorded quantized training run (steps 0..n_steps-1).

    Attributes: ``config`` (with n_features/n_classes filled in), ``data``,
    ``initial_state``, ``final_state`` (state dicts: name -> one int64 array per layer;
    SGD's is ``{"W": weights}``), ``initial_weights``, ``final_weights`` (the weights they
    stand for, index l-1 = W_l), ``losses``, ``accuracies`` (per step), ``out_dir``
    (spill directory or None)."""

    def __init__(self, config: TrainConfig, data: Dataset, initial_state, *,
                 out_dir: str | None = None, keep_in_memory: bool = False, method: str = "sgd_mlp",
                 method_params: dict | None = None):
        self.config = config
        self.method = method
        self.method_params, self._step_fn = step_function(method, method_params)
        self.data = data
        self.initial_state = as_state(initial_state)
        self.final_state = self.initial_state
        self.losses: list[float] = []
        self.accuracies: list[float] = []
        self.out_dir = os.fspath(out_dir) if out_dir is not None else None
        self.keep_in_memory = keep_in_memory
        self._mem: dict[int, StepTrace] = {}
        self._on_disk: set[int] = set()
        self._checkpoints: dict[int, dict] = {0: self.initial_state}
        self._state: _State | None = None

    @property
    def initial_weights(self) -> Weights:
        return effective_weights(self.config, self.initial_state, self.method, self.method_params)

    @property
    def final_weights(self) -> Weights:
        return effective_weights(self.config, self.final_state, self.method, self.method_params)

    def _constant_state(self) -> tuple:
        """State names that never change (a frozen base): not stored in step files."""
        from zkdl.circuits.builder import method_class
        return tuple(getattr(method_class(self.method), "constant_state", ()))

    # -------------------------------------------------------------- basics
    @property
    def n_steps(self) -> int:
        return len(self.losses)

    def __repr__(self) -> str:
        return (f"Run(steps={self.n_steps}, layers={self.config.layers}, data={self.data.name!r}, "
                f"out_dir={self.out_dir!r}, keep_in_memory={self.keep_in_memory})")

    def state(self, t: int) -> dict:
        """The state dict before step t (t = n_steps gives the final state)."""
        if not 0 <= t <= self.n_steps:
            raise IndexError(f"step {t} outside 0..{self.n_steps}")
        if t in self._checkpoints:
            return self._checkpoints[t]
        if t == self.n_steps:
            return self.final_state
        tr = self.step(t)
        return {k: [tr[f"{k}_{l}"] for l in range(1, len(v) + 1)] for k, v in self.initial_state.items()}

    def weights(self, t: int) -> Weights:
        """Weights before step t (t = n_steps gives the final weights)."""
        return effective_weights(self.config, self.state(t), self.method, self.method_params)

    def biases(self, t: int) -> list | None:
        """Bias rows before step t of a method with biases (None otherwise)."""
        return effective_biases(self.config, self.state(t), self.method, self.method_params)

    def accuracy(self, data: Dataset | None = None, t: int | None = None) -> float:
        """Quantized accuracy of the weights (and biases) before step t (default: final) on data."""
        t = self.n_steps if t is None else t
        return accuracy(self.weights(t), data or self.data, self.biases(t))

    def evaluate(self, data: Dataset, t: int | None = None) -> tuple[float, float]:
        """(loss, accuracy) of the weights before step t (default: final) on every row of
        ``data`` (e.g. a held-out set encoded with ``self.data.scaling``), see
        :func:`loss_accuracy`."""
        t = self.n_steps if t is None else t
        return loss_accuracy(self.weights(t), data, self.biases(t))

    # -------------------------------------------------------------- running
    def resume(self, steps: int, progress: Callable | None = None) -> "Run":
        """Run ``steps`` more steps from the final weights (in place); returns self."""
        if not isinstance(steps, int) or steps < 0:
            raise ConfigError(f"steps must be a non-negative int, got {steps!r}")
        st = self._state if self._state is not None else _State.from_dict(self.final_state)
        const = self._constant_state()
        if self.out_dir is not None:
            os.makedirs(os.path.join(self.out_dir, "steps"), exist_ok=True)
        t0 = self.n_steps
        # (steps recorded, state after them), set in one assignment after each step, so that
        # an interrupt (Ctrl-C) between the updates below never leaves half a step recorded
        committed = (t0, st)
        try:
            for t in range(t0, t0 + steps):
                T, st, loss, acc = self._step_fn(self.config, self.data, st, t)
                trace = StepTrace(t, T, loss, acc)
                if self.out_dir is not None:
                    _save_step(os.path.join(self.out_dir, _step_file(t)), trace, const)
                    self._on_disk.add(t)
                if self.keep_in_memory:
                    self._mem[t] = trace
                self.losses.append(loss)
                self.accuracies.append(acc)
                self._state = st
                self.final_state = st.as_dict()
                committed = (t + 1, st)
                if progress is not None:
                    progress(t, loss, acc)
        finally:
            # also after an OverflowBoundError or KeyboardInterrupt: the steps done so far stay a valid run
            n_done, st_done = committed
            del self.losses[n_done:]
            del self.accuracies[n_done:]
            self._state = st_done
            self.final_state = st_done.as_dict()
            self._checkpoints[self.n_steps] = self.final_state
            self._trim_checkpoints(keep=None)
            if self.out_dir is not None:
                self._write_meta(self.out_dir)
        return self

    def _trim_checkpoints(self, keep: int | None) -> None:
        """Keep checkpoints 0, n_steps and (optionally) ``keep``."""
        wanted = {0, self.n_steps} | ({keep} if keep is not None else set())
        for k in list(self._checkpoints):
            if k not in wanted and len(self._checkpoints) > 3:
                del self._checkpoints[k]

    # -------------------------------------------------------------- access
    def iter_steps(self, t0: int = 0, T: int | None = None) -> Iterator[StepTrace]:
        """Yield StepTrace for steps t0..t0+T-1 (memory, disk, or deterministic replay)."""
        if T is None:
            T = self.n_steps - t0
        if t0 < 0 or T < 0 or t0 + T > self.n_steps:
            raise IndexError(f"steps {t0}..{t0 + T - 1} outside the run's 0..{self.n_steps - 1}")
        t = t0
        while t < t0 + T:
            if t in self._mem:
                yield self._mem[t]
                t += 1
                continue
            if t in self._on_disk and self.out_dir is not None:
                path = os.path.join(self.out_dir, _step_file(t))
                if os.path.exists(path):
                    yield self._load_step(path)
                    t += 1
                    continue
            # replay from the nearest checkpoint at or before t, up to the end of the window
            c = max(k for k in self._checkpoints if k <= t)
            st = _State.from_dict(self._checkpoints[c])
            for u in range(c, t0 + T):
                Tn, st, loss, acc = self._step_fn(self.config, self.data, st, u)
                if u >= t:
                    yield StepTrace(u, Tn, loss, acc)
            self._checkpoints[t0 + T] = st.as_dict()
            self._trim_checkpoints(keep=t0 + T)
            t = t0 + T

    def _load_step(self, path: str) -> StepTrace:
        tr = _load_step(path)
        for k in self._constant_state():
            for l, w in enumerate(self.initial_state[k], 1):
                tr.tensors.setdefault(f"{k}_{l}", w)
        return tr

    def step(self, t: int) -> StepTrace:
        """The recorded tensors of step t."""
        return next(self.iter_steps(t, 1))

    def window(self, t0: int, T: int) -> list[StepTrace]:
        """Steps t0..t0+T-1 as a list (what a prover of that window needs)."""
        return list(self.iter_steps(t0, T))

    # -------------------------------------------------------------- storage
    def _manifest(self) -> dict:
        return {
            "format": TRACE_FORMAT,
            "method": self.method,
            "method_params": self.method_params,
            "config": self.config.to_dict(),
            "config_digest": self.config.digest(),
            "data": {"name": self.data.name, "digest": self.data.digest(), "file": "data.npz"},
            "n_steps": self.n_steps,
            "tensor_names": tensor_names(self.config.layers),
            "weights_initial": {"file": "weights_initial.npz", "digest": state_digest(self.initial_state)},
            "weights_final": {"file": "weights_final.npz", "digest": state_digest(self.final_state)},
            "steps": [{"t": t, "file": _step_file(t).replace(os.sep, "/"), "loss": self.losses[t],
                       "accuracy": self.accuracies[t]} for t in range(self.n_steps)],
        }

    def _write_meta(self, d: str) -> None:
        if not os.path.exists(os.path.join(d, "data.npz")):
            _atomic_write(os.path.join(d, "data.npz"), self.data.save_raw)
        if not os.path.exists(os.path.join(d, "weights_initial.npz")):
            _save_weights(os.path.join(d, "weights_initial.npz"), self.initial_state)
        _save_weights(os.path.join(d, "weights_final.npz"), self.final_state)
        text = json.dumps(self._manifest(), sort_keys=True, indent=1)
        _atomic_write(os.path.join(d, "manifest.json"), lambda f: f.write(text.encode()))

    def save(self, directory) -> str:
        """Write the whole run (every step) to ``directory``; returns its path."""
        d = os.fspath(directory)
        os.makedirs(os.path.join(d, "steps"), exist_ok=True)
        same = self.out_dir is not None and os.path.realpath(d) == os.path.realpath(self.out_dir)
        for f in ("data.npz", "weights_initial.npz"):
            if not same and os.path.exists(os.path.join(d, f)):
                os.unlink(os.path.join(d, f))
        missing = []
        for t in range(self.n_steps):
            dst = os.path.join(d, _step_file(t))
            if same and t in self._on_disk and os.path.exists(dst):
                continue
            if t in self._on_disk and self.out_dir is not None and not same:
                src = os.path.join(self.out_dir, _step_file(t))
                if os.path.exists(src):
                    _atomic_write(dst, lambda f, src=src: f.write(open(src, "rb").read()))
                    continue
            missing.append(t)
        # compute (memory or replay) the steps not available as files, in runs
        i = 0
        while i < len(missing):
            j = i
            while j + 1 < len(missing) and missing[j + 1] == missing[j] + 1:
                j += 1
            for st in self.iter_steps(missing[i], missing[j] - missing[i] + 1):
                _save_step(os.path.join(d, _step_file(st.t)), st, self._constant_state())
            i = j + 1
        self._write_meta(d)
        return d

    @classmethod
    def load(cls, directory, *, keep_in_memory: bool = False) -> "Run":
        """Open a saved run (steps are read lazily from disk; resume appends there)."""
        d = os.fspath(directory)
        mpath = os.path.join(d, "manifest.json")
        try:
            with open(mpath, encoding="utf-8") as f:
                man = json.load(f)
        except FileNotFoundError:
            raise DataError(f"{mpath}: no saved run here (manifest.json missing)") from None
        except ValueError as e:
            raise DataError(f"{mpath}: unreadable manifest ({e})") from None
        if man.get("format") != TRACE_FORMAT:
            raise DataError(f"{mpath}: unknown trace format {man.get('format')!r}")
        config = TrainConfig.from_dict(man["config"])
        if config.digest() != man["config_digest"]:
            raise DataError(f"{mpath}: config digest mismatch")
        data = Dataset.load_raw(os.path.join(d, "data.npz"))
        if data.digest() != man["data"]["digest"]:
            raise DataError(f"{os.path.join(d, 'data.npz')}: dataset digest does not match the manifest")
        L = config.layers
        W0 = _load_weights(os.path.join(d, "weights_initial.npz"), L)
        Wn = _load_weights(os.path.join(d, "weights_final.npz"), L)
        if state_digest(W0) != man["weights_initial"]["digest"] or \
                state_digest(Wn) != man["weights_final"]["digest"]:
            raise DataError(f"{d}: weight files do not match the manifest digests")
        method = man.get("method", "sgd_mlp")   # runs recorded before methods were plugins: SGD
        params = man.get("method_params", {})
        if not isinstance(method, str) or not isinstance(params, dict):
            raise DataError(f"{mpath}: method must be a string and method_params an object")
        try:
            run = cls(config, data, W0, out_dir=d, keep_in_memory=keep_in_memory, method=method,
                      method_params=params)
        except ConfigError as e:
            raise DataError(f"{mpath}: {e}") from None
        run.losses = [float(s["loss"]) for s in man["steps"]]
        run.accuracies = [float(s["accuracy"]) for s in man["steps"]]
        if len(run.losses) != man["n_steps"]:
            raise DataError(f"{mpath}: n_steps does not match the step list")
        run.final_state = Wn
        run._checkpoints[run.n_steps] = Wn
        run._on_disk = {t for t in range(run.n_steps) if os.path.exists(os.path.join(d, _step_file(t)))}
        if keep_in_memory:
            for t in sorted(run._on_disk):
                run._mem[t] = run._load_step(os.path.join(d, _step_file(t)))
        return run


def _replaced(state: dict, given: dict | None) -> dict:
    """``state`` with the lists of ``given`` in place of its own (names and shapes checked)."""
    if not given:
        return state
    out = dict(state)
    for name, arrays in as_state(given).items():
        if name not in state:
            raise ConfigError(f"initial state: the method has no state {name!r} (it has {', '.join(sorted(state))})")
        if len(arrays) != len(state[name]) or any(a.shape != b.shape for a, b in zip(arrays, state[name])):
            raise ConfigError(f"initial state {name!r}: expected {len(state[name])} arrays of shapes "
                              f"{[b.shape for b in state[name]]}, got {[a.shape for a in arrays]}")
        out[name] = arrays
    return out


def train(config: TrainConfig | None = None, data: Dataset | None = None, steps: int | None = None,
          out_dir=None, keep_in_memory: bool = False, progress: Callable | None = None,
          resume: Run | None = None, method: str = "sgd_mlp", method_params: dict | None = None,
          initial: dict | None = None) -> Run:
    """Run quantized SGD (or the registered training ``method``) and record the trace.

    ``config`` defaults to ``TrainConfig()``, ``data`` to :func:`zkdl.data.synthetic`
    (with the config's R), ``steps`` to ``config.steps``. ``out_dir``: spill each step
    there (must not already hold a run). ``keep_in_memory``: keep every step's tensors in
    RAM. ``progress(t, loss, accuracy)`` is called after each step. ``resume``: continue
    that run (same config and data) for ``steps`` more steps, in place. ``method`` /
    ``method_params``: a registered training method (docs/METHODS.md) and its parameters.
    ``initial``: state lists that replace those of the method's initial state, e.g.
    ``{"base": weights}`` (``lora``: fine-tune a given base model); same names and shapes."""
    config = config if config is not None else TrainConfig()
    if data is None:
        data = synthetic(R=config.R) if resume is None else resume.data
    cfg = config.for_data(data)
    n = cfg.steps if steps is None else steps
    if resume is not None:
        if cfg.replace(steps=0).digest() != resume.config.replace(steps=0).digest():
            raise ConfigError("resume: config differs from the run's config")
        if data.digest() != resume.data.digest():
            raise ConfigError("resume: data differs from the run's data")
        return resume.resume(n, progress=progress)
    if out_dir is not None:
        out_dir = os.fspath(out_dir)
        if os.path.exists(os.path.join(out_dir, "manifest.json")):
            raise ConfigError(f"{out_dir} already holds a run; use Run.load({out_dir!r}).resume(steps)")
        os.makedirs(out_dir, exist_ok=True)
    state = _replaced(initial_state(cfg, method, method_params), initial)
    run = Run(cfg, data, state, out_dir=out_dir, keep_in_memory=keep_in_memory,
              method=method, method_params=method_params)
    return run.resume(n, progress=progress)
