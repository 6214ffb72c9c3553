"""The built-in training method ``sgd_mlp``: quantized SGD of the bias-free ReLU MLP of
:mod:`zkdl.tracer` with the MSE loss (pure Python, verifier-safe).

It is a plugin like any other (docs/METHODS.md): a :class:`~zkdl.circuits.builder.Method`
with its statement, its circuit from the shared gadgets and its tracer step
(:func:`zkdl.tracer._step`); registered when :mod:`zkdl.circuits` is imported.
"""

from __future__ import annotations

from zkdl.circuits.builder import CircuitBuilder, Method, Op, register_method
from zkdl.circuits.ir import CircuitError, next_pow2
from zkdl.config import TrainConfig

__all__ = ["SGDMLPMethod", "mlp_layer_runs", "mlp_forward", "mlp_scores", "mlp_backward", "mlp_update"]


def mlp_layer_runs(dims) -> list[list[int]]:
    """FAC4DNN stacking of an MLP with layer widths ``dims`` = (d_0, ..., d_L): layers with
    the same padded shapes (D_{l-1}, D_l, D_{l+1}) and ReLU-ness (l < L) are stacked,
    split into runs of power-of-two length (5 -> 4 + 1), so that with T a power of two
    the instance axis needs no padded (all-zero) layer slots; instance (t, lf) of a run of
    2^k layers sits at index t 2^k + lf. Ordered by first layer."""
    pd = [next_pow2(int(d)) for d in dims]
    L = len(dims) - 1
    groups: dict[tuple, list[int]] = {}
    for layer in range(1, L + 1):
        key = (pd[layer - 1], pd[layer], pd[layer + 1] if layer < L else 0, layer < L)
        groups.setdefault(key, []).append(layer)
    runs = []
    for ls in groups.values():
        while ls:
            size = 1 << (len(ls).bit_length() - 1)
            runs.append(ls[:size])
            ls = ls[size:]
    return sorted(runs, key=lambda r: r[0])


class SGDMLPMethod(Method):
    """Built-in: quantized SGD of the bias-free ReLU MLP of :mod:`zkdl.tracer` (MSE loss).

    Per step t and layer l (DESIGN.md section 4): zkReLU forward with rescale, MSE output
    gradient, backward matmul with rescale and the same sign bits, weight gradient with
    the learning-rate rescale, the W chain, and data selection by the public schedule."""

    name = "sgd_mlp"
    tracer_step = "zkdl.tracer:_step"
    statement = {"dataset": ["Xdata", "Ydata"], "initial": ["W0"], "final": ["W_final"],
                 "outputs": {"loss": "losses"}}

    def validate(self, config: TrainConfig, steps: int) -> None:
        if config.loss != "mse":
            raise CircuitError(f"sgd_mlp supports loss 'mse' only, got {config.loss!r}")

    def build(self, b: CircuitBuilder) -> None:
        from zkdl.circuits import gadgets as g

        cfg, d = b.config, b.dims
        L, R, Q, k, ub = cfg.layers, cfg.R, cfg.Q, cfg.lr_shift, cfg.update_bits
        H = list(range(1, L))
        ALL = list(range(1, L + 1))
        b.set_layer_runs(mlp_layer_runs(d))

        # statement: initial weights (range-checked once unless inherited) and the dataset
        g.initial_weights(b, "W0", ALL, lambda l: (d[l - 1], d[l]), Q,
                          check=b.options["check_initial_weights"])
        g.data_selection(b, check=b.options["check_dataset"])

        # committed witnesses (as range-checked values) per step
        g.range_value(b, "dW", ALL, lambda l: (d[l - 1], d[l]), ub, 1 << (ub - 1), source=[[1, "dW_{l}"]])
        g.range_value(b, "remW", ALL, lambda l: (d[l - 1], d[l]), R + k, 1 << (R + k - 1),
                      source=[[1, "remW_{l}"]], defined=True)
        g.weight_chain(b, "W", "W0", "dW", ALL, lambda l: (d[l - 1], d[l]))
        mlp_forward(b)
        mlp_backward(b, H)
        mlp_update(b, ALL)


def mlp_forward(b: CircuitBuilder) -> None:
    """Forward pass of every layer (:func:`mlp_scores`) and the MSE output gradient
    G_Z_L = Z'_L - Y (with the proven loss if the options ask for it)."""
    from zkdl.circuits import gadgets as g
    d, L, B = b.dims, b.config.layers, b.config.batch_size
    mlp_scores(b)
    g.mse_gradient(b, L, lambda l: (B, d[l]))
    if b.options.get("prove_loss"):
        g.mse_loss_output(b, L)


def mlp_scores(b: CircuitBuilder, weights: str = "W") -> None:
    """Forward pass of every layer up to the output scores Z'_L: zkReLU on hidden layers,
    plain rescale on the output layer, reading the gathered inputs A[l-1] and the weights
    ``weights``[t, l] (the chained W of a training step, or a statement tensor)."""
    from zkdl.circuits import gadgets as g
    cfg, T, d, B = b.config, b.T, b.dims, b.config.batch_size
    L, R, Q = cfg.layers, cfg.R, cfg.Q
    ALL = list(range(1, L + 1))
    g.zkrelu_forward(b, list(range(1, L)), lambda l: (B, d[l]), Q)
    g.range_value(b, "Zp", [L], lambda l: (B, d[l]), Q, 1 << (Q - 1), role=lambda l: "out",
                  source=[[1, "Zp_{l}"]])
    g.range_value(b, "remZ", ALL, lambda l: (B, d[l]), R, 1 << (R - 1), source=[[1, "remZ_{l}"]], defined=True)
    # each run's inputs A[l-1] (the data for l = 1), gathered as the matmul reads them
    g.gather(b, "Ain", "A", ALL, lambda l: (B, d[l - 1]), lambda l: l - 1, [[1, "A_{prev}"]])
    g.rescaled_matmul(b, "forward", [(t, l) for t in range(T) for l in ALL], left=Op("left", "Ain"),
                      right=Op("right", weights), quotient="Zp", remainder="remZ", shift=R)


def mlp_backward(b: CircuitBuilder, layers) -> None:
    """Backward pass into hidden ``layers``: G_Z[l+1] W[l+1]^T = 2^R G_A' + remGA and
    G_Z = (1 - S) * G_A' (the forward sign bits)."""
    from zkdl.circuits import gadgets as g
    if not layers:
        return
    cfg, T, d, B = b.config, b.T, b.dims, b.config.batch_size
    R, Q = cfg.R, cfg.Q
    g.range_value(b, "G_Ap", layers, lambda l: (B, d[l]), Q, 1 << (Q - 1), source=[[1, "G_Ap_{l}"]])
    g.range_value(b, "remGA", layers, lambda l: (B, d[l]), R, 1 << (R - 1), source=[[1, "remGA_{l}"]],
                  defined=True)
    g.zkrelu_backward(b, layers, lambda l: (B, d[l]))
    g.gather(b, "GZn", "G_Z", layers, lambda l: (B, d[l + 1]), lambda l: l + 1, [[1, "G_Z_{next}"]])
    g.gather(b, "Wn", "W", layers, lambda l: (d[l], d[l + 1]), lambda l: l + 1, [[1, "W_{next}"]])
    g.rescaled_matmul(b, "backward", [(t, l) for t in range(T) for l in layers],
                      left=Op("left", "GZn"), right=Op("right", "Wn", transpose=True),
                      quotient="G_Ap", remainder="remGA", shift=R)


def mlp_update(b: CircuitBuilder, layers) -> None:
    """Weight gradient and update of ``layers``: a A_in^T G_Z = 2^(R+k) dW + remW (the
    learning rate a / 2^k folded into the rescale)."""
    from zkdl.circuits import gadgets as g
    cfg, T = b.config, b.T
    g.rescaled_matmul(b, "update", [(t, l) for t in range(T) for l in layers],
                      left=Op("left", "Ain", transpose=True), right=Op("right", "G_Z"), quotient="dW",
                      remainder="remW", shift=cfg.R + cfg.lr_shift, coef=cfg.lr_num)


register_method(SGDMLPMethod)
