"""Tracer side of ``sgd_bias`` (:mod:`zkdl.methods.sgd_bias`): the exact integer step, the
initial state (W from the tracer's initialization, b = 0), the quantized forward pass
with biases (:func:`predict`) and a float64 reference of the same method. Imported only
by the tracer (numpy)."""

from __future__ import annotations

import numpy as np

from zkdl import quant
from zkdl.reference import float_batch, mse_output
from zkdl.tracer import (_REMEDY_UPDATE, _REMEDY_VALUE, _State, _metrics, _overflow, batch_inputs,
                         init_weights)
from zkdl.tracer import check_bits as _check, exact_product as _mm

__all__ = ["initial_state", "trace_step", "predict", "effective_biases", "float_train"]


def initial_state(config) -> dict:
    """W: the tracer's He-uniform initialization of the config; b = 0 (1 x d_l per layer)."""
    W = init_weights(config)
    return {"W": W, "b": [np.zeros((1, w.shape[1]), dtype=np.int64) for w in W]}



def trace_step(cfg, data, st: _State, t: int):
    """One exact step (module docstring of :mod:`zkdl.methods.sgd_bias`): Z = A W + 2^R b
    (per batch row), Z' = round(Z / 2^R), zkReLU, G_Z_L = Z'_L - Y, SGD's backward pass,
    dW = round(a A^T G_Z / 2^(R+k)), db = round(a 2^R sum_rows(G_Z) / 2^(R+k))."""
    L, R, Q, ub = cfg.layers, cfg.R, cfg.Q, cfg.update_bits
    s = R + cfg.lr_shift
    W, bias = st.W, st.extra["b"]
    T = batch_inputs(cfg, data, t)
    B = T["A_0"].shape[0]
    one = np.full((B, 1), 1 << R, dtype=np.int64)
    T["ONE"] = one
    A, S, GZ = [T["A_0"]], [None] * (L + 1), [None] * (L + 1)
    for l in range(1, L + 1):
        T[f"W_{l}"], T[f"b_{l}"] = W[l - 1], bias[l - 1]
        bz = one @ bias[l - 1]
        T[f"BZ_{l}"] = bz
        Z = _mm(t, l, f"Z_{l} = A_{l-1} W_{l}", A[l - 1], W[l - 1])
        if Z.size and int(np.abs(Z).max()) + int(np.abs(bz).max()) >= 1 << 62:
            raise _overflow(t, l, f"Z_{l}", None, 63, _REMEDY_VALUE, detail=": A W + b does not fit int64")
        Zp, T[f"remZ_{l}"] = quant.round_shift(Z + bz, R)
        _check(t, l, f"Zp_{l}", Zp, Q)
        T[f"Zp_{l}"] = Zp
        if l < L:
            S[l] = (Zp < 0).astype(np.int64)
            T[f"S_{l}"] = S[l]
            A.append(Zp * (1 - S[l]))
            T[f"A_{l}"] = A[l]
        else:
            GZ[L] = Zp - T["Y"]
            _check(t, l, f"G_Z_{l}", GZ[L], Q)
    for l in range(L - 1, 0, -1):
        GAp, T[f"remGA_{l}"] = quant.round_shift(_mm(t, l, f"G_A_{l}", GZ[l + 1], W[l].T), R)
        _check(t, l, f"G_Ap_{l}", GAp, Q)
        T[f"G_Ap_{l}"] = GAp
        GZ[l] = GAp * (1 - S[l])
    a = cfg.lr_num
    nW, nb = [], []
    for l in range(1, L + 1):
        T[f"G_Z_{l}"] = GZ[l]
        gw = _mm(t, l, f"G_W_{l}", A[l - 1].T, GZ[l])
        gb = GZ[l].sum(axis=0, keepdims=True) << R          # ONE^T G_Z
        for name, g in ((f"a * G_W_{l}", gw), (f"a * G_b_{l}", gb)):
            if g.size and int(np.abs(g).max()) * a >= 1 << 62:
                raise _overflow(t, l, name, None, 63, _REMEDY_VALUE, detail=": it would overflow int64")
        dW, T[f"remW_{l}"] = quant.round_shift(gw * a, s)
        db, T[f"remb_{l}"] = quant.round_shift(gb * a, s)
        _check(t, l, f"dW_{l}", dW, ub, _REMEDY_UPDATE)
        _check(t, l, f"db_{l}", db, ub, _REMEDY_UPDATE)
        wn, bn = W[l - 1] - dW, bias[l - 1] - db
        _check(t, l, f"W_next_{l}", wn, Q)
        _check(t, l, f"b_next_{l}", bn, Q)
        T[f"dW_{l}"], T[f"db_{l}"], T[f"W_next_{l}"], T[f"b_next_{l}"] = dW, db, wn, bn
        nW.append(wn)
        nb.append(bn)
    loss, acc = _metrics(cfg, T, {L: GZ[L].astype(np.float64)})
    return T, _State(nW, extra={"b": nb}), loss, acc


def predict(weights, biases, X, R: int) -> np.ndarray:
    """The quantized forward pass with biases (training's rounding, no bound checks):
    Z'_L = round((A W + 2^R b) / 2^R) per layer, ReLU between, as int64
    (:func:`zkdl.tracer.predict` with biases)."""
    from zkdl.tracer import predict as forward
    return forward(weights, X, R, biases)


def effective_biases(config, state: dict) -> list:
    """The bias rows of a state (what prediction and accuracy use with the weights)."""
    return state["b"]


def float_train(config, data, steps: int, state: dict):
    """float64 SGD of the same network with biases (z = a W + b, ReLU'(0) = 1 as zkReLU,
    the summed MSE loss, W' = W - eta a^T G, b' = b - eta sum_rows G), from the
    dequantized state, on the same batches. Returns (losses, accuracies, W, b)."""
    sc = float(1 << config.R)
    W = [w / sc for w in state["W"]]
    bs = [b.reshape(1, -1) / sc for b in state["b"]]
    X = data.X_float()
    L = len(W)
    losses, accs = [], []
    for t in range(steps):
        xb, labels = float_batch(config, data, X, t)
        acts, masks = [xb], []
        for l in range(L):
            z = acts[-1] @ W[l] + bs[l]
            masks.append(z >= 0.0)
            acts.append(np.maximum(z, 0.0) if l < L - 1 else z)
        G, loss, acc = mse_output(acts[-1], labels)
        losses.append(loss)
        accs.append(acc)
        grads = [None] * L
        for l in range(L - 1, -1, -1):
            grads[l] = (acts[l].T @ G, G.sum(axis=0, keepdims=True))
            if l > 0:
                G = (G @ W[l].T) * masks[l - 1]
        for l in range(L):
            W[l] = W[l] - config.eta * grads[l][0]
            bs[l] = bs[l] - config.eta * grads[l][1]
    return losses, accs, W, bs
