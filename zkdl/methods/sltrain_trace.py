"""Tracer side of ``sltrain`` (:mod:`zkdl.methods.sltrain`): the exact-integer step, the
initial state, the effective weights and a float64 reference. Imported only by the
tracer (numpy)."""

from __future__ import annotations

import json
import math

import numpy as np

from zkdl import quant
from zkdl.data import shake_words
from zkdl.methods.lora_trace import _mm, adapter_updates, low_rank_passes, metrics, rescaled_update
from zkdl.methods.sltrain import layer_supports
from zkdl.reference import float_batch, mse_output
from zkdl.support import support_positions
from zkdl.tracer import _State, batch_inputs

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
    """One exact SLTrain step (formulas in :mod:`zkdl.methods.sltrain`): lora's passes and
    adapter updates with the dense sparse part for the base, then the sparse values."""
    dims = cfg.dims()
    LB, LA, SV = st.extra["sl_B"], st.extra["sl_A"], st.extra["sl_S"]
    T = batch_inputs(cfg, data, t)
    Sd = [dense(SV[l - 1], l, dims[l - 1], dims[l], support_seed) for l in range(1, cfg.layers + 1)]
    for l in range(1, cfg.layers + 1):
        T[f"sl_B_{l}"], T[f"sl_A_{l}"], T[f"sl_S_{l}"], T[f"Sd_{l}"] = LB[l - 1], LA[l - 1], SV[l - 1], Sd[l - 1]
    acts = low_rank_passes(cfg, t, T, LB, LA, Sd)
    nB, nA = adapter_updates(cfg, t, T, acts, LB, LA, ("sl_B", "sl_A"))
    nS = []
    for l in range(1, cfg.layers + 1):
        rows, cols = dims[l - 1], dims[l]
        GW = T[f"GW_{l}"] = _mm(t, l, f"G_W_{l}", acts[l - 1].T, T[f"G_Z_{l}"])
        pos = np.asarray(support_positions(support_seed, l, rows, cols, len(SV[l - 1])), dtype=np.int64)
        g = T[f"gSV_{l}"] = GW[pos // cols, pos % cols].reshape(-1, 1)
        nS.append(rescaled_update(cfg, t, l, T, "SV", g, SV[l - 1], cfg.R + cfg.lr_shift))
        T[f"sl_S_next_{l}"] = nS[-1]
    return (T, _State(None, extra={"sl_B": nB, "sl_A": nA, "sl_S": nS})) + metrics(cfg, T)


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
        xb, labels = float_batch(config, data, X, t)
        Sd = [dense(Ss[l], l + 1, dims[l], dims[l + 1], support_seed) for l in range(L)]
        acts, F, masks = [xb], [], []
        for l in range(L):
            F.append(acts[-1] @ Bs[l])
            z = F[-1] @ As[l] + acts[-1] @ Sd[l]
            masks.append(z >= 0.0)   # ReLU'(0) = 1, as zkReLU: (1 - S), S = [Z' < 0]
            acts.append(np.maximum(z, 0.0) if l < L - 1 else z)
        G, loss, acc = mse_output(acts[-1], labels)
        losses.append(loss)
        accs.append(acc)
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
