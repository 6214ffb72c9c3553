"""Tracer side of ``eval_accuracy`` (:mod:`zkdl.methods.eval_accuracy`): the quantized
forward pass of every test row and the argmax witness. Imported only by the tracer (numpy)."""

from __future__ import annotations

import numpy as np

from zkdl import quant
from zkdl.tracer import _REMEDY_VALUE, _State, _overflow, batch_inputs, check_bits, exact_product

__all__ = ["eval_step", "forward_scores"]


def forward_scores(W, A0, R: int, Q: int, t: int = 0, biases=None) -> tuple[dict, np.ndarray]:
    """The exact forward pass of zkdl.tracer (Z' = round(A W / 2^R), zkReLU on hidden
    layers; with ``biases``, sgd_bias's Z' = round((A W + 2^R b) / 2^R)): (trace tensors
    A_l, S_l, Zp_l, remZ_l, W_l (and ONE, b_l, BZ_l); the scores Z'_L)."""
    T, A, L = {}, A0, len(W)
    if biases is not None:
        T["ONE"] = np.full((A0.shape[0], 1), 1 << R, dtype=np.int64)
    for l in range(1, L + 1):
        Z = exact_product(t, l, f"Z_{l} = A_{l-1} W_{l}", A, W[l - 1])
        if biases is not None:
            T[f"b_{l}"], T[f"BZ_{l}"] = biases[l - 1], T["ONE"] @ biases[l - 1]
            if Z.size and int(np.abs(Z).max()) + int(np.abs(T[f"BZ_{l}"]).max()) >= 1 << 62:
                raise _overflow(t, l, f"Z_{l}", None, 63, _REMEDY_VALUE, detail=": A W + b does not fit int64")
            Z = Z + T[f"BZ_{l}"]
        Zp, T[f"remZ_{l}"] = quant.round_shift(Z, R)
        T[f"Zp_{l}"], T[f"W_{l}"] = check_bits(t, l, f"Zp_{l}", Zp, Q), W[l - 1]
        if l < L:
            S = (Zp < 0).astype(np.int64)
            A = (1 - S) * Zp
            T[f"S_{l}"], T[f"A_{l}"] = S, A
    return T, T[f"Zp_{L}"]


def eval_step(cfg, data, st: _State, t: int, biases: int = 0):
    """The one step of an evaluation proof: the batch of step 0 (every test row, in the
    schedule's order), its scores, the one-hot first argmax Pred and the count of rows
    where it is the target. Returns (tensors, the unchanged state, 0.0, accuracy)."""
    R, Q = cfg.R, cfg.Q
    T = batch_inputs(cfg, data, t)
    fw, Zs = forward_scores(st.W, T["A_0"], R, Q, t, st.extra.get("b") if biases else None)
    T.update(fw)
    B, C = Zs.shape
    T["RowOne"] = np.ones((B, 1), dtype=np.int64)
    T["ClassIndex"] = np.arange(C - 1, -1, -1, dtype=np.int64).reshape(1, C)
    T["IndexRows"] = np.repeat(T["ClassIndex"], B, axis=0)
    ranked = C * Zs + T["IndexRows"]
    pred = np.argmax(Zs, axis=1)                       # the first maximum: the maximum of the ranked scores
    P = np.zeros((B, C), dtype=np.int64)
    P[np.arange(B), pred] = 1
    picked = P * ranked
    row_max = np.repeat(picked.sum(axis=1, keepdims=True), C, axis=1)
    T.update(Ranked=ranked, Pred=P, Picked=picked, AllOnes=np.ones((C, C), dtype=np.int64), RowMax=row_max,
             Gap=row_max - ranked, Hits=P * T["Y"])
    return T, st, 0.0, float(np.mean(pred == T["labels"]))
