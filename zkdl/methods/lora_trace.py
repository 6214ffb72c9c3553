"""Tracer side of ``lora`` (:mod:`zkdl.methods.lora`): the exact-integer step, the initial
state, the effective weights, and a float64 reference of the same method.

Imported only by the tracer (numpy); the formulas are in :mod:`zkdl.methods.lora`.
"""

from __future__ import annotations

import json
import math

import numpy as np

from zkdl import quant
from zkdl.data import shake_words
from zkdl.reference import float_batch, mse_output
from zkdl.tracer import _REMEDY_UPDATE, _REMEDY_VALUE, _State, _overflow, batch_inputs, init_weights
from zkdl.tracer import check_bits as _bounded, exact_product as _mm

__all__ = ["initial_state", "trace_step", "effective_weights", "float_train"]


def initial_state(config, rank: int = 4) -> dict:
    """base = the tracer's initialization; B_l uniform integers in [-M, M], M =
    floor(2^R / sqrt(d_{l-1})), from SHAKE-256("zkdl/lora/v1", init_seed, dims, R, l);
    A_l = 0 (so training starts at the base model, as in LoRA)."""
    dims = config.dims()
    B, A = [], []
    for l in range(1, len(dims)):
        M = int(math.floor((1 << config.R) / math.sqrt(dims[l - 1])))
        tag = b"zkdl/lora/v1|" + json.dumps([config.init_seed, list(dims), config.R, l]).encode()
        w = shake_words(tag, dims[l - 1] * rank)
        B.append(((w % np.uint64(2 * M + 1)).astype(np.int64) - M).reshape(dims[l - 1], rank))
        A.append(np.zeros((rank, dims[l]), dtype=np.int64))
    return {"base": init_weights(config), "lora_B": B, "lora_A": A}


def effective_weights(config, state: dict, rank: int = 4) -> list:
    """W_l = W0_l + round(B_l A_l / 2^R) (for prediction and export; the training forward
    pass rounds x B first, so predictions can differ from it by rounding)."""
    return [w + quant.round_shift(quant.exact_matmul(b, a), config.R)[0]
            for w, b, a in zip(state["base"], state["lora_B"], state["lora_A"])]



def low_rank_passes(cfg, t: int, T: dict, B: list, A: list, side: list) -> list:
    """Forward and backward of x (X + B A) for the dense per-layer matrices ``side`` (X)
    into ``T`` (formulas in :func:`zkdl.methods.lora.low_rank_passes`); returns the
    activations A[0..L-1]."""
    L, R, Q = cfg.layers, cfg.R, cfg.Q
    acts, S = [T["A_0"]], [None] * (L + 1)
    for l in range(1, L + 1):
        a = acts[l - 1]
        Fq, T[f"remF_{l}"] = quant.round_shift(_mm(t, l, f"Ain_{l} B_{l}", a, B[l - 1]), R)
        T[f"Fq_{l}"] = _bounded(t, l, f"Fq_{l}", Fq, Q)
        Zx = T[f"Zx_{l}"] = _mm(t, l, f"Ain_{l} X_{l}", a, side[l - 1])
        Zp, T[f"remZ_{l}"] = quant.round_shift(Zx + _mm(t, l, f"Fq_{l} A_{l}", Fq, A[l - 1]), R)
        T[f"Zp_{l}"] = _bounded(t, l, f"Zp_{l}", Zp, Q)
        if l < L:
            S[l] = T[f"S_{l}"] = (Zp < 0).astype(np.int64)
            acts.append(np.where(S[l] == 1, 0, Zp))
            T[f"A_{l}"] = acts[l]
        else:
            T[f"G_Z_{l}"] = _bounded(t, l, f"G_Z_{l}", Zp - T["Y"], Q)
    for l in range(L, 0, -1):
        gz = T[f"G_Z_{l}"]
        Hq, T[f"remH_{l}"] = quant.round_shift(_mm(t, l, f"G_Z_{l} A_{l}^T", gz, A[l - 1].T), R)
        T[f"Hq_{l}"] = _bounded(t, l, f"Hq_{l}", Hq, Q)
        if l > 1:
            Gx = T[f"Gx_{l - 1}"] = _mm(t, l - 1, f"G_Z_{l} X_{l}^T", gz, side[l - 1].T)
            GAp, T[f"remGA_{l - 1}"] = quant.round_shift(Gx + _mm(t, l - 1, f"Hq_{l} B_{l}^T", Hq, B[l - 1].T), R)
            T[f"G_Ap_{l - 1}"] = _bounded(t, l - 1, f"G_Ap_{l - 1}", GAp, Q)
            T[f"G_Z_{l - 1}"] = np.where(S[l - 1] == 1, 0, GAp)
    return acts


def rescaled_update(cfg, t: int, l: int, T: dict, x: str, grad, old, shift: int):
    """d = round(a grad / 2^shift) (``d{x}_{l}``, remainder ``rem{x}_{l}``, within
    update_bits), returns old - d (within Q bits). ``grad`` int64 or Python ints."""
    a = cfg.lr_num
    if grad.dtype != object and quant.abs_max(grad) * a >= 1 << 62:
        grad = grad.astype(object)
    g = grad * a
    q = (g + (1 << (shift - 1))) >> shift
    rem = g - q * (1 << shift)
    lim = 1 << 62
    if q.dtype == object and q.size and (max(abs(v) for v in rem.flat) >= lim or max(abs(v) for v in q.flat) >= lim):
        raise _overflow(t, l, f"a * grad {x}_{l}", None, 63, _REMEDY_VALUE, detail=": the update does not fit int64")
    T[f"rem{x}_{l}"] = rem.astype(np.int64)
    T[f"d{x}_{l}"] = d = _bounded(t, l, f"d{x}_{l}", q.astype(np.int64), cfg.update_bits, _REMEDY_UPDATE)
    return _bounded(t, l, f"{x}_next_{l}", old - d, cfg.Q)


def adapter_updates(cfg, t: int, T: dict, acts: list, B: list, A: list, names: tuple) -> tuple[list, list]:
    """dB = round(a Ain^T Hq / 2^(R+k)), dA = round(a Fq^T G_Z / 2^(R+k)); the next B and
    A (recorded as ``{names[i]}_next_{l}``)."""
    s, nB, nA = cfg.R + cfg.lr_shift, [], []
    for l in range(1, cfg.layers + 1):
        nB.append(rescaled_update(cfg, t, l, T, "LB", _mm(t, l, f"grad B_{l}", acts[l - 1].T, T[f"Hq_{l}"]),
                                  B[l - 1], s))
        nA.append(rescaled_update(cfg, t, l, T, "LA", _mm(t, l, f"grad A_{l}", T[f"Fq_{l}"].T, T[f"G_Z_{l}"]),
                                  A[l - 1], s))
        T[f"{names[0]}_next_{l}"], T[f"{names[1]}_next_{l}"] = nB[-1], nA[-1]
    return nB, nA


def metrics(cfg, T: dict) -> tuple[float, float]:
    """(loss, batch accuracy) of a step, as the tracer reports them."""
    L, B, R = cfg.layers, cfg.batch_size, cfg.R
    loss = 0.5 * float(np.sum(T[f"G_Z_{L}"].astype(np.float64) ** 2)) / (B * float(1 << (2 * R)))
    return loss, float(np.mean(np.argmax(T[f"Zp_{L}"], axis=1) == T["labels"]))


def trace_step(cfg, data, st: _State, t: int, rank: int = 4):
    """One exact LoRA step (formulas in :mod:`zkdl.methods.lora`); returns (tensors, next
    state, loss, accuracy). Tensor names are the circuit's sources."""
    base, LB, LA = st.extra["base"], st.extra["lora_B"], st.extra["lora_A"]
    T = batch_inputs(cfg, data, t)
    for l in range(1, cfg.layers + 1):
        T[f"base_{l}"], T[f"lora_B_{l}"], T[f"lora_A_{l}"] = base[l - 1], LB[l - 1], LA[l - 1]
    acts = low_rank_passes(cfg, t, T, LB, LA, base)
    nB, nA = adapter_updates(cfg, t, T, acts, LB, LA, ("lora_B", "lora_A"))
    return (T, _State(None, extra={"base": base, "lora_B": nB, "lora_A": nA})) + metrics(cfg, T)


def float_train(config, data, steps: int, state: dict, rank: int = 4):
    """The same method in float64 from the dequantized ``state``: W = W0 + B A, the MSE
    loss summed over the batch, dB = eta Ain^T (G_Z A^T), dA = eta (Ain B)^T G_Z.
    Returns (losses, accuracies, final float state dict)."""
    sc = float(1 << config.R)
    W0 = [w / sc for w in state["base"]]
    Bs = [b / sc for b in state["lora_B"]]
    As = [a / sc for a in state["lora_A"]]
    X = data.X_float()
    losses, accs = [], []
    L = len(W0)
    for t in range(steps):
        xb, labels = float_batch(config, data, X, t)
        acts, F, masks = [xb], [], []
        for l in range(L):
            F.append(acts[-1] @ Bs[l])
            z = acts[-1] @ W0[l] + F[-1] @ As[l]
            masks.append(z >= 0.0)   # ReLU'(0) = 1, as zkReLU: (1 - S), S = [Z' < 0]
            acts.append(np.maximum(z, 0.0) if l < L - 1 else z)
        G, loss, acc = mse_output(acts[-1], labels)
        losses.append(loss)
        accs.append(acc)
        for l in range(L - 1, -1, -1):
            Hh = G @ As[l].T
            dB, dA = config.eta * acts[l].T @ Hh, config.eta * F[l].T @ G
            if l > 0:
                G = (G @ W0[l].T + Hh @ Bs[l].T) * masks[l - 1]
            Bs[l] -= dB
            As[l] -= dA
    return losses, accs, {"base": W0, "lora_B": Bs, "lora_A": As}
