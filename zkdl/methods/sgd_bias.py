"""Training method ``sgd_bias``: quantized SGD of a ReLU MLP *with bias terms* (a default
``torch.nn.Linear`` stack), every bias proven with its own SGD update (pure Python,
verifier-safe).

Integers at scale 2^R, round half up, every remainder range-checked. The bias b_l (1 x d_l,
scale 2^R like W) is the weight row of a constant input 1.0 (2^R): with the public all-ones
column ONE (B x 1, every entry 2^R on the batch rows, zero in the padding),

    BZ = ONE b                                      (B x d_l: the bias row on every batch row)
    2^R Z' + remZ = A_in W + BZ                     (forward, zkReLU on hidden layers as SGD)
    dW = round(a A_in^T G_Z / 2^(R+k))              (SGD's update, unchanged)
    db = round(a ONE^T G_Z / 2^(R+k)) = round(a sum_rows(G_Z) / 2^k)
    W' = W - dW,  b' = b - db

The backward pass is SGD's (b does not enter it). The statement: ``initial`` = [W0, b0],
``final`` = [W_final, b_final] (both chain across proofs; b0 range-checked to Q bits with
W0). New relations: ``ones`` (ONE, a linear relation with only the constant 2^R),
``bias_rows`` (BZ = ONE b, a matmul defining BZ), ``forward`` (with the extra ``-BZ``
output term), ``update_b`` (db's rescaled matmul), ``chain:b`` / ``chain_final:b`` (the
bias chain b[t] = b0 - sum db). The built-in ``sgd_mlp`` is unchanged.
"""

from __future__ import annotations

from zkdl.circuits.builder import CircuitBuilder, Method, Op, register_method
from zkdl.circuits.ir import CircuitError
from zkdl.circuits.sgd_mlp import mlp_backward, mlp_layer_runs, mlp_update

__all__ = ["SGDBiasMethod", "bias_forward", "bias_scores"]


class SGDBiasMethod(Method):
    """SGD of the ReLU MLP with biases (module docstring)."""

    name = "sgd_bias"
    params: dict = {}
    tracer_step = "zkdl.methods.sgd_bias_trace:trace_step"
    effective_biases = "zkdl.methods.sgd_bias_trace:effective_biases"
    initial_state = "zkdl.methods.sgd_bias_trace:initial_state"
    statement = {"dataset": ["Xdata", "Ydata"], "initial": ["W0", "b0"], "final": ["W_final", "b_final"],
                 "outputs": {"loss": "losses"}}
    state_of = {"W0": "W", "W_final": "W", "b0": "b", "b_final": "b"}

    def validate(self, config, steps: int) -> None:
        if config.loss != "mse":
            raise CircuitError(f"sgd_bias supports loss 'mse' only, got {config.loss!r}")

    def build(self, b: CircuitBuilder) -> None:
        from zkdl.circuits import gadgets as g
        cfg, d = b.config, b.dims
        L, R, Q, k, ub = cfg.layers, cfg.R, cfg.Q, cfg.lr_shift, cfg.update_bits
        ALL, H = list(range(1, L + 1)), list(range(1, L))
        wshape = lambda l: (d[l - 1], d[l])  # noqa: E731
        bshape = lambda l: (1, d[l])  # noqa: E731
        b.set_layer_runs(mlp_layer_runs(d))
        g.initial_weights(b, "W0", ALL, wshape, Q, check=b.options["check_initial_weights"])
        g.initial_weights(b, "b0", ALL, bshape, Q, check=b.options["check_initial_weights"], trace="b")
        g.data_selection(b, check=b.options["check_dataset"])
        g.range_value(b, "dW", ALL, wshape, ub, 1 << (ub - 1), source=[[1, "dW_{l}"]])
        g.range_value(b, "remW", ALL, wshape, R + k, 1 << (R + k - 1), source=[[1, "remW_{l}"]], defined=True)
        g.range_value(b, "db", ALL, bshape, ub, 1 << (ub - 1), source=[[1, "db_{l}"]])
        g.range_value(b, "remb", ALL, bshape, R + k, 1 << (R + k - 1), source=[[1, "remb_{l}"]], defined=True)
        g.weight_chain(b, "W", "W0", "dW", ALL, wshape)
        g.weight_chain(b, "b", "b0", "db", ALL, bshape, trace="b")
        bias_forward(b)
        mlp_backward(b, H)
        mlp_update(b, ALL)
        g.rescaled_matmul(b, "update_b", [(t, l) for t in range(b.T) for l in ALL],
                          left=Op("left", "ONE", transpose=True), right=Op("right", "G_Z"), quotient="db",
                          remainder="remb", shift=R + k, coef=cfg.lr_num)


def bias_forward(b: CircuitBuilder) -> None:
    """SGD's forward pass with the bias rows (:func:`bias_scores`) and the MSE output
    gradient (and the proven loss if asked)."""
    from zkdl.circuits import gadgets as g
    d, L, B = b.dims, b.config.layers, b.config.batch_size
    bias_scores(b)
    g.mse_gradient(b, L, lambda l: (B, d[l]))
    if b.options.get("prove_loss"):
        g.mse_loss_output(b, L)


def bias_scores(b: CircuitBuilder, weights: str = "W", biases: str = "b") -> None:
    """The forward pass up to the scores Z'_L (``mlp_scores``) with the bias rows: ONE
    (B x 1, 2^R on the batch rows; ``ones``), BZ = ONE ``biases`` (``bias_rows``),
    A_in ``weights`` + BZ = 2^R Z' + remZ (``forward``)."""
    from zkdl.circuits import gadgets as g
    cfg, T, d, B = b.config, b.T, b.dims, b.config.batch_size
    L, R, Q = cfg.layers, cfg.R, cfg.Q
    ALL = list(range(1, L + 1))
    insts = [(t, l) for t in range(T) for l in ALL]
    act = lambda l: (B, d[l])  # noqa: E731
    g.zkrelu_forward(b, list(range(1, L)), act, Q)
    g.range_value(b, "Zp", [L], act, Q, 1 << (Q - 1), role=lambda l: "out", source=[[1, "Zp_{l}"]])
    g.gather(b, "Ain", "A", ALL, lambda l: (B, d[l - 1]), lambda l: l - 1, [[1, "A_{prev}"]])
    one = 1 << R
    b.stacks("ONE", ALL, lambda l: (B, 1), kind="derived_linear", lo=one, hi=one, source=[[1, "ONE"]])
    b.relation("ones", "linear", insts, [Op("out", "ONE")], {"const": one})
    bb = max(max(abs(v) for v in b.bound(b.stack_of(biases, l))) for l in ALL) * one
    b.stacks("BZ", ALL, act, kind="derived_product", lo=-bb, hi=bb, source=[[1, "BZ_{l}"]])
    b.relation("bias_rows", "matmul", insts, [Op("left", "ONE"), Op("right", biases), Op("out", "BZ")],
               {"shift": 0, "coef": 1})
    g.range_value(b, "remZ", ALL, act, R, 1 << (R - 1), source=[[1, "remZ_{l}"]], defined=True)
    b.relation("forward", "matmul", insts,
               [Op("left", "Ain"), Op("right", weights), Op("out", "Zp", coef=1 << R), Op("out", "remZ"),
                Op("out", "BZ", coef=-1)], {"shift": R, "coef": 1})


register_method(SGDBiasMethod)
