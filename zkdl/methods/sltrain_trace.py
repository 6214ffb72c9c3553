"""Tracer side of ``sltrain`` (:mod:`zkdl.methods.sltrain`): the exact-integer step, the
initial state, the effective weights and a float64 reference. Imported only by the
tracer (numpy)."""

from __future__ import annotations

import json
import math

import numpy as np

from zkdl import quant
from zkdl.data import shake_words
from zkdl.methods.lora_trace import _bounded, _mm
from zkdl.methods.sltrain import layer_supports
from zkdl.schedule import batch_indices
from zkdl.support import support_positions
from zkdl.tracer import _REMEDY_UPDATE, _REMEDY_VALUE, _State, _overflow

__all__ = ["initial_state", "trace_step", "effective_weights", "float_train", "dense"]


def _uniform(tag: str, config, l: int, n: int, M: int) -> np.ndarray:
    words = shake_words(f"zkdl/sltrain/{tag}/v1|".encode()
                        + json.dumps([config.init_seed, list(config.dims()), config.R, l]).encode(), n)
    return (words % np.uint64(2 * M + 1)).astype(np.int64) - M


def initial_state(config, rank: int = 4, density_permille: int = 30, support_seed: int = 0) -> dict:
    """B_l uniform in [-M_B, M_B], M_B = floor(2^R sqrt(6 / d_{l-1})), A_l uniform in
    [-M_A, M_A], M_A = floor(2^R sqrt(3 / r)) (so B A has He variance 2 / d_{l-1}, as
    SLTrain initializes both factors), the sparse values uniform in [-M_s, M_s], M_s =
    floor(2^R / sqrt(d_{l-1})); all from SHAKE-256 of the public init_seed."""
    dims = config.dims()
    sup = layer_supports(dims, density_permille)
    B, A, S = [], [], []
    for l in range(1, len(dims)):
        rows, cols, count = sup[l]
        B.append(_uniform("B", config, l, rows * rank, int((1 << config.R) * math.sqrt(6.0 / rows))).reshape(rows, rank))
        A.append(_uniform("A", config, l, rank * cols, int((1 << config.R) * math.sqrt(3.0 / rank))).reshape(rank, cols))
        ms = int((1 << config.R) / math.sqrt(rows))
        S.append(_uniform("S", config, l, count, ms).reshape(count, 1))
    return {"sl_B": B, "sl_A": A, "sl_S": S}


def dense(values: np.ndarray, l: int, rows: int, cols: int, support_seed: int) -> np.ndarray:
    """The dense rows x cols matrix of layer l's sparse values (zero off the support)."""
    out = np.zeros((rows, cols), dtype=values.dtype)
    pos = np.asarray(support_positions(support_seed, l, rows, cols, len(values)), dtype=np.int64)
    out[pos // cols, pos % cols] = values[:, 0]
    return out


def effective_weights(config, state: dict, rank: int = 4, density_permille: int = 30, support_seed: int = 0):
    """W_l = round(B_l A_l / 2^R) + S_l (prediction and export; training rounds x B first)."""
    dims = config.dims()
    return [quant.round_shift(quant.exact_matmul(b, a), config.R)[0] + dense(s, l, dims[l - 1], dims[l], support_seed)
            for l, (b, a, s) in enumerate(zip(state["sl_B"], state["sl_A"], state["sl_S"]), start=1)]


def trace_step(cfg, data, st: _State, t: int, rank: int = 4, density_permille: int = 30, support_seed: int = 0):
    """One exact SLTrain step (formulas in :mod:`zkdl.methods.sltrain`)."""
    L, R, Q, B = cfg.layers, cfg.R, cfg.Q, cfg.batch_size
    dims = cfg.dims()
    LB, LA, SV = st.extra["sl_B"], st.extra["sl_A"], st.extra["sl_S"]
    idx = np.asarray(batch_indices(cfg.batch_seed, data.n_samples, B, t), dtype=np.int64)
    labels = data.y[idx]
    A0 = _bounded(t, 0, "A_0 (input batch)", data.X[idx], Q,
                  "the data features exceed the Q-bit bound: use a smaller R (--R) or a larger Q (--Q)")
    Y = np.zeros((B, cfg.n_classes), dtype=np.int64)
    Y[np.arange(B), labels] = 1 << R
    T = {"batch": idx, "labels": labels, "Y": Y, "A_0": A0}
    acts, S, Sd = [A0], [None] * (L + 1), [None] * (L + 1)
    for l in range(1, L + 1):
        a = acts[l - 1]
        T[f"sl_B_{l}"], T[f"sl_A_{l}"], T[f"sl_S_{l}"] = LB[l - 1], LA[l - 1], SV[l - 1]
        Sd[l] = T[f"Sd_{l}"] = dense(SV[l - 1], l, dims[l - 1], dims[l], support_seed)
        Fq, T[f"remF_{l}"] = quant.round_shift(_mm(t, l, f"Ain_{l} B_{l}", a, LB[l - 1]), R)
        T[f"Fq_{l}"] = _bounded(t, l, f"Fq_{l}", Fq, Q)
        Zs = T[f"Zs_{l}"] = _mm(t, l, f"Ain_{l} S_{l}", a, Sd[l])
        Zp, T[f"remZ_{l}"] = quant.round_shift(Zs + _mm(t, l, f"Fq_{l} A_{l}", Fq, LA[l - 1]), R)
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
            GS = T[f"GS_{l - 1}"] = _mm(t, l - 1, f"G_Z_{l} S_{l}^T", gz, Sd[l].T)
            GAp, T[f"remGA_{l - 1}"] = quant.round_shift(GS + _mm(t, l - 1, f"Hq_{l} B_{l}^T", Hq, LB[l - 1].T), R)
            T[f"G_Ap_{l - 1}"] = _bounded(t, l - 1, f"G_Ap_{l - 1}", GAp, Q)
            T[f"G_Z_{l - 1}"] = np.where(S[l - 1] == 1, 0, GAp)
    a_lr, s, ub = cfg.lr_num, R + cfg.lr_shift, cfg.update_bits
    new = {"sl_B": [], "sl_A": [], "sl_S": []}
    for l in range(1, L + 1):
        rows, cols = dims[l - 1], dims[l]
        GW = T[f"GW_{l}"] = _mm(t, l, f"G_W_{l}", acts[l - 1].T, T[f"G_Z_{l}"])
        pos = np.asarray(support_positions(support_seed, l, rows, cols, len(SV[l - 1])), dtype=np.int64)
        T[f"gSV_{l}"] = GW[pos // cols, pos % cols].reshape(-1, 1)
        for x, g, old, key in (("LB", _mm(t, l, f"grad B_{l}", acts[l - 1].T, T[f"Hq_{l}"]), LB[l - 1], "sl_B"),
                               ("LA", _mm(t, l, f"grad A_{l}", T[f"Fq_{l}"].T, T[f"G_Z_{l}"]), LA[l - 1], "sl_A"),
                               ("SV", T[f"gSV_{l}"], SV[l - 1], "sl_S")):
            if quant.abs_max(g) * a_lr >= 1 << 62:
                raise _overflow(t, l, f"a * grad {x}_{l}", None, 63, _REMEDY_VALUE,
                                detail=": the scaled gradient would overflow int64")
            d, T[f"rem{x}_{l}"] = quant.round_shift(g * a_lr, s)
            T[f"d{x}_{l}"] = _bounded(t, l, f"d{x}_{l}", d, ub, _REMEDY_UPDATE)
            new[key].append(_bounded(t, l, f"{x}_next_{l}", old - d, Q))
            T[f"{key}_next_{l}"] = new[key][-1]
    loss = 0.5 * float(np.sum(T[f"G_Z_{L}"].astype(np.float64) ** 2)) / (B * float(1 << (2 * R)))
    acc = float(np.mean(np.argmax(T[f"Zp_{L}"], axis=1) == labels))
    return T, _State(None, extra=new), loss, acc


def float_train(config, data, steps: int, state: dict, rank: int = 4, density_permille: int = 30,
                support_seed: int = 0):
    """float64 SLTrain from the dequantized state: W = B A + S, dB = eta Ain^T (G_Z A^T),
    dA = eta (Ain B)^T G_Z, ds = eta (Ain^T G_Z) at the support. Returns (losses,
    accuracies, final float W)."""
    sc = float(1 << config.R)
    dims = config.dims()
    Bs = [b / sc for b in state["sl_B"]]
    As = [a / sc for a in state["sl_A"]]
    Ss = [s / sc for s in state["sl_S"]]
    L = len(Bs)
    X = data.X_float()
    losses, accs = [], []
    for t in range(steps):
        idx = batch_indices(config.batch_seed, data.n_samples, config.batch_size, t)
        Sd = [dense(Ss[l], l + 1, dims[l], dims[l + 1], support_seed) for l in range(L)]
        acts, F, masks = [X[idx]], [], []
        for l in range(L):
            F.append(acts[-1] @ Bs[l])
            z = F[-1] @ As[l] + acts[-1] @ Sd[l]
            masks.append(z >= 0.0)   # ReLU'(0) = 1, as zkReLU: (1 - S), S = [Z' < 0]
            acts.append(np.maximum(z, 0.0) if l < L - 1 else z)
        Y = np.zeros_like(acts[-1])
        Y[np.arange(len(idx)), data.y[idx]] = 1.0
        G = acts[-1] - Y
        losses.append(0.5 * float(np.sum(G * G)) / len(idx))
        accs.append(float(np.mean(np.argmax(acts[-1], axis=1) == data.y[idx])))
        for l in range(L - 1, -1, -1):
            rows, cols = dims[l], dims[l + 1]
            pos = np.asarray(support_positions(support_seed, l + 1, rows, cols, len(Ss[l])), dtype=np.int64)
            Hh, GW = G @ As[l].T, acts[l].T @ G
            dB, dA = config.eta * acts[l].T @ Hh, config.eta * F[l].T @ G
            if l > 0:
                G = (Hh @ Bs[l].T + G @ Sd[l].T) * masks[l - 1]
            Bs[l] -= dB
            As[l] -= dA
            Ss[l] = Ss[l] - config.eta * GW[pos // cols, pos % cols].reshape(-1, 1)
    W = [b @ a + dense(s, l + 1, dims[l], dims[l + 1], support_seed) for l, (b, a, s) in enumerate(zip(Bs, As, Ss))]
    return losses, accs, W
