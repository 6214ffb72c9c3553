"""Tracer side of ``subset_momentum`` (:mod:`zkdl.methods.subset_momentum`): the exact
integer step, the initial state (W from the tracer's initialization, V = 0) and a
float64 reference of the same method. Imported only by the tracer (numpy)."""

from __future__ import annotations

import numpy as np

from zkdl import quant
from zkdl.methods.subset_momentum import subset_start
from zkdl.reference import float_batch, float_forward, float_weight_grads, mse_output
from zkdl.tracer import _REMEDY_UPDATE, _REMEDY_VALUE, _State, _metrics, _overflow, forward_backward, init_weights

__all__ = ["initial_state", "trace_step", "float_train"]


def initial_state(config, beta_num: int = 29, beta_shift: int = 5, subset_seed: int = 0) -> dict:
    W = init_weights(config)
    return {"W": W, "V": [np.zeros_like(w) for w in W]}


def trace_step(cfg, data, st: _State, t: int, beta_num: int = 29, beta_shift: int = 5, subset_seed: int = 0):
    """SGD's forward and backward pass, then V' = round((b 2^(R+k) V + a 2^kb A^T G_Z) /
    2^(R+k+kb)), W' = W - V' on layers s_t..L; the others keep W and V."""
    T, A, Af, GZ, GZf = forward_backward(cfg, data, st, t)
    L, R, Q, ub = cfg.layers, cfg.R, cfg.Q, cfg.update_bits
    s = R + cfg.lr_shift + beta_shift
    start = subset_start(subset_seed, L, t)
    V = st.extra["V"]
    nW, nV = list(st.W), list(V)
    for l in range(1, L + 1):
        T[f"V_{l}"] = V[l - 1]
        if l >= start:
            try:
                g = quant.exact_matmul(np.ascontiguousarray(A[l - 1].T), GZ[l])
            except OverflowError:
                raise _overflow(t, l, f"G_W_{l}", None, 63, _REMEDY_VALUE, detail=": A^T G_Z does not fit int64") from None
            c1, c2 = cfg.lr_num << beta_shift, beta_num << (R + cfg.lr_shift)
            if quant.abs_max(g) * c1 + quant.abs_max(V[l - 1]) * c2 >= 1 << 62:
                raise _overflow(t, l, f"V_next_{l}", None, 63, _REMEDY_VALUE,
                                detail=": the momentum update would overflow int64")
            vn, T[f"remV_{l}"] = quant.round_shift(g * c1 + V[l - 1] * c2, s)
            lim = 1 << (ub - 1)
            if vn.size and (vn.min() < -lim or vn.max() >= lim):
                raise _overflow(t, l, f"Vn_{l}", vn, ub, _REMEDY_UPDATE)
            T[f"Vn_{l}"] = vn
            wn = st.W[l - 1] - vn
            if wn.size and (wn.min() < -(1 << (Q - 1)) or wn.max() >= 1 << (Q - 1)):
                raise _overflow(t, l, f"W_next_{l}", wn, Q, _REMEDY_VALUE)
            nW[l - 1], nV[l - 1] = wn, vn
        T[f"W_next_{l}"], T[f"V_next_{l}"] = nW[l - 1], nV[l - 1]
    loss, acc = _metrics(cfg, T, GZf)
    return T, _State(nW, extra={"V": nV}), loss, acc


def float_train(config, data, steps: int, state: dict, beta_num: int = 29, beta_shift: int = 5,
                subset_seed: int = 0):
    """float64: M' = beta M + G_W, W' = W - eta M' on layers s_t..L (the same s_t), from
    the dequantized state (M = V / eta). Returns (losses, accuracies, final float W)."""
    sc = float(1 << config.R)
    W = [w / sc for w in state["W"]]
    M = [v / sc / config.eta for v in state["V"]]
    beta = beta_num / float(1 << beta_shift)
    X = data.X_float()
    L = len(W)
    losses, accs = [], []
    for t in range(steps):
        xb, labels = float_batch(config, data, X, t)
        acts, masks = float_forward(W, xb)
        G, loss, acc = mse_output(acts[-1], labels)
        losses.append(loss)
        accs.append(acc)
        start = subset_start(subset_seed, L, t)
        grads = float_weight_grads(W, acts, masks, G)
        for l in range(L):
            if l + 1 >= start:
                M[l] = beta * M[l] + grads[l]
                W[l] = W[l] - config.eta * M[l]
    return losses, accs, W
