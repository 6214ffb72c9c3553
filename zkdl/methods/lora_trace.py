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
from zkdl.schedule import batch_indices
from zkdl.tracer import _REMEDY_UPDATE, _REMEDY_VALUE, _State, _overflow, init_weights

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


def _mm(t, l, what, a, b):
    try:
        return quant.exact_matmul(np.ascontiguousarray(a), np.ascontiguousarray(b))
    except OverflowError:
        raise _overflow(t, l, what, None, 63, _REMEDY_VALUE, detail=": the product does not fit int64") from None


def _bounded(t, l, name, x, bits, remedy=_REMEDY_VALUE):
    lim = 1 << (bits - 1)
    if x.size and (x.min() < -lim or x.max() >= lim):
        raise _overflow(t, l, name, x, bits, remedy)
    return x


def trace_step(cfg, data, st: _State, t: int, rank: int = 4):
    """One exact LoRA step (formulas in :mod:`zkdl.methods.lora`); returns (tensors, next
    state, loss, accuracy). Tensor names are the circuit's sources."""
    L, R, Q, B = cfg.layers, cfg.R, cfg.Q, cfg.batch_size
    base, LB, LA = st.extra["base"], st.extra["lora_B"], st.extra["lora_A"]
    idx = np.asarray(batch_indices(cfg.batch_seed, data.n_samples, B, t), dtype=np.int64)
    labels = data.y[idx]
    A0 = _bounded(t, 0, "A_0 (input batch)", data.X[idx], Q,
                  "the data features exceed the Q-bit bound: use a smaller R (--R) or a larger Q (--Q)")
    Y = np.zeros((B, cfg.n_classes), dtype=np.int64)
    Y[np.arange(B), labels] = 1 << R
    T = {"batch": idx, "labels": labels, "Y": Y, "A_0": A0}
    acts, S = [A0], [None] * (L + 1)
    for l in range(1, L + 1):
        a = acts[l - 1]
        T[f"base_{l}"], T[f"lora_B_{l}"], T[f"lora_A_{l}"] = base[l - 1], LB[l - 1], LA[l - 1]
        Fq, T[f"remF_{l}"] = quant.round_shift(_mm(t, l, f"Ain_{l} B_{l}", a, LB[l - 1]), R)
        T[f"Fq_{l}"] = _bounded(t, l, f"Fq_{l}", Fq, Q)
        Z0 = T[f"Z0_{l}"] = _mm(t, l, f"Ain_{l} W0_{l}", a, base[l - 1])
        Zp, T[f"remZ_{l}"] = quant.round_shift(Z0 + _mm(t, l, f"Fq_{l} A_{l}", Fq, LA[l - 1]), R)
        T[f"Zp_{l}"] = _bounded(t, l, f"Zp_{l}", Zp, Q)
        if l < L:
            S[l] = T[f"S_{l}"] = (Zp < 0).astype(np.int64)
            acts.append(np.where(S[l] == 1, 0, Zp))
            T[f"A_{l}"] = acts[l]
        else:
            T[f"G_Z_{l}"] = _bounded(t, l, f"G_Z_{l}", Zp - Y, Q)
    for l in range(L, 0, -1):
        gz = T[f"G_Z_{l}"]
        Hq, T[f"remH_{l}"] = quant.round_shift(_mm(t, l, f"G_Z_{l} A_{l}^T", gz, LA[l - 1].T), R)
        T[f"Hq_{l}"] = _bounded(t, l, f"Hq_{l}", Hq, Q)
        if l > 1:
            GB0 = T[f"GB0_{l - 1}"] = _mm(t, l - 1, f"G_Z_{l} W0_{l}^T", gz, base[l - 1].T)
            GAp, T[f"remGA_{l - 1}"] = quant.round_shift(GB0 + _mm(t, l - 1, f"Hq_{l} B_{l}^T", Hq, LB[l - 1].T), R)
            T[f"G_Ap_{l - 1}"] = _bounded(t, l - 1, f"G_Ap_{l - 1}", GAp, Q)
            T[f"G_Z_{l - 1}"] = np.where(S[l - 1] == 1, 0, GAp)
    a_lr, s, ub = cfg.lr_num, R + cfg.lr_shift, cfg.update_bits
    nB, nA = [], []
    for l in range(1, L + 1):
        for x, left, right, old, out in (("LB", acts[l - 1].T, T[f"Hq_{l}"], LB[l - 1], nB),
                                         ("LA", T[f"Fq_{l}"].T, T[f"G_Z_{l}"], LA[l - 1], nA)):
            g = _mm(t, l, f"grad {x}_{l}", left, right)
            if quant.abs_max(g) * a_lr >= 1 << 62:
                raise _overflow(t, l, f"a * grad {x}_{l}", None, 63, _REMEDY_VALUE,
                                detail=": the scaled gradient would overflow int64")
            d, T[f"rem{x}_{l}"] = quant.round_shift(g * a_lr, s)
            T[f"d{x}_{l}"] = _bounded(t, l, f"d{x}_{l}", d, ub, _REMEDY_UPDATE)
            out.append(_bounded(t, l, f"{x}_next_{l}", old - d, Q))
        T[f"lora_B_next_{l}"], T[f"lora_A_next_{l}"] = nB[-1], nA[-1]
    loss = 0.5 * float(np.sum(T[f"G_Z_{L}"].astype(np.float64) ** 2)) / (B * float(1 << (2 * R)))
    acc = float(np.mean(np.argmax(T[f"Zp_{L}"], axis=1) == labels))
    return T, _State(None, extra={"base": base, "lora_B": nB, "lora_A": nA}), loss, acc


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
        idx = batch_indices(config.batch_seed, data.n_samples, config.batch_size, t)
        acts, F, masks = [X[idx]], [], []
        for l in range(L):
            F.append(acts[-1] @ Bs[l])
            z = acts[-1] @ W0[l] + F[-1] @ As[l]
            masks.append(z >= 0.0)   # ReLU'(0) = 1, as zkReLU: (1 - S), S = [Z' < 0]
            acts.append(np.maximum(z, 0.0) if l < L - 1 else z)
        Y = np.zeros_like(acts[-1])
        Y[np.arange(len(idx)), data.y[idx]] = 1.0
        G = acts[-1] - Y
        losses.append(0.5 * float(np.sum(G * G)) / len(idx))
        accs.append(float(np.mean(np.argmax(acts[-1], axis=1) == data.y[idx])))
        for l in range(L - 1, -1, -1):
            Hh = G @ As[l].T
            dB, dA = config.eta * acts[l].T @ Hh, config.eta * F[l].T @ G
            if l > 0:
                G = (G @ W0[l].T + Hh @ Bs[l].T) * masks[l - 1]
            Bs[l] -= dB
            As[l] -= dA
    return losses, accs, {"base": W0, "lora_B": Bs, "lora_A": As}
