"""Float64 reference trainer (numpy) of the tracer's network, for cross-checking.

Same architecture (bias-free linear layers, ReLU after layers 1..L-1), same batches
(:func:`zkdl.schedule.batch_indices`), same loss (0.5 * ||out - onehot||^2 summed over
the batch, reported as its batch mean), same update ``W -= eta * A^T G_Z`` with
``eta = lr_num / 2^lr_shift``, started from the dequantized initial weights and
dequantized features. Only rounding differs from :mod:`zkdl.tracer`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from zkdl.config import TrainConfig
from zkdl.data import Dataset
from zkdl.schedule import batch_indices

__all__ = ["FloatRun", "train_float", "float_step", "predict_float", "accuracy_float", "float_batch", "mse_output",
           "float_forward", "float_weight_grads"]


@dataclass
class FloatRun:
    weights: list  # float64 arrays
    losses: list = field(default_factory=list)
    accuracies: list = field(default_factory=list)


def float_batch(config, data: Dataset, X: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows of the float features X, labels) of step t's batch (the public schedule)."""
    idx = batch_indices(config.batch_seed, data.n_samples, config.batch_size, t)
    return X[idx], data.y[idx]


def mse_output(out: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(G = out - onehot, the batch-mean of 0.5 ||out - onehot||^2, batch accuracy)."""
    Y = np.zeros_like(out)
    Y[np.arange(len(labels)), labels] = 1.0
    G = out - Y
    return G, 0.5 * float(np.sum(G * G)) / len(labels), float(np.mean(np.argmax(out, axis=1) == labels))


def float_forward(W: list, xb: np.ndarray) -> tuple[list, list]:
    """The float64 forward pass of the methods' references: (activations A_0..A_L, the
    last being the output Z_L; masks ReLU'(Z_l) of the hidden layers, with ReLU'(0) = 1
    as zkReLU's (1 - S), S = [Z' < 0])."""
    acts, masks = [xb], []
    L = len(W)
    for l in range(L):
        z = acts[-1] @ W[l]
        masks.append(z >= 0.0)
        acts.append(np.maximum(z, 0.0) if l < L - 1 else z)
    return acts, masks


def float_weight_grads(W: list, acts: list, masks: list, G: np.ndarray) -> list:
    """dL/dW_l = A_{l-1}^T G_Z[l] for every layer, from the output gradient G."""
    grads = [None] * len(W)
    for l in range(len(W) - 1, -1, -1):
        grads[l] = acts[l].T @ G
        if l > 0:
            G = (G @ W[l].T) * masks[l - 1]
    return grads


def float_step(W: list, X: np.ndarray, labels: np.ndarray, eta: float, n_classes: int):
    """One float64 SGD step in place on W; returns (loss, batch accuracy)."""
    L = len(W)
    A = [X]
    for l in range(L):
        Z = A[-1] @ W[l]
        A.append(np.maximum(Z, 0.0) if l < L - 1 else Z)
    out = A[-1]
    B = X.shape[0]
    Y = np.zeros((B, n_classes))
    Y[np.arange(B), labels] = 1.0
    G = out - Y
    loss = 0.5 * float(np.sum(G * G)) / B
    acc = float(np.mean(np.argmax(out, axis=1) == labels))
    for l in range(L - 1, -1, -1):
        GW = A[l].T @ G
        if l > 0:
            G = (G @ W[l].T) * (A[l] > 0)
        W[l] -= eta * GW
    return loss, acc


def train_float(config: TrainConfig, data: Dataset, steps: int | None = None,
                initial_weights: list | None = None, start_step: int = 0) -> FloatRun:
    """Train in float64 from ``initial_weights`` (int64 quantized arrays are dequantized;
    default: the tracer's :func:`~zkdl.tracer.init_weights`)."""
    cfg = config.for_data(data)
    if initial_weights is None:
        from zkdl.tracer import init_weights
        initial_weights = init_weights(cfg)
    scale = float(1 << cfg.R)
    W = [w.astype(np.float64) / scale if w.dtype.kind in "iu" else w.astype(np.float64).copy()
         for w in initial_weights]
    X = data.X_float()
    run = FloatRun(W)
    n = cfg.steps if steps is None else steps
    for t in range(start_step, start_step + n):
        idx = batch_indices(cfg.batch_seed, data.n_samples, cfg.batch_size, t)
        loss, acc = float_step(W, X[idx], data.y[idx], cfg.eta, cfg.n_classes)
        run.losses.append(loss)
        run.accuracies.append(acc)
    return run


def predict_float(weights: list, X: np.ndarray) -> np.ndarray:
    a = X
    for l, w in enumerate(weights):
        a = a @ w
        if l < len(weights) - 1:
            a = np.maximum(a, 0.0)
    return a


def accuracy_float(weights: list, data: Dataset) -> float:
    return float(np.mean(np.argmax(predict_float(weights, data.X_float()), axis=1) == data.y))
