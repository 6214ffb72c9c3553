"""Proven test accuracy: the circuit ``eval_accuracy`` (pure Python, verifier-safe).

A proof of this method states that the committed weights W (its ``initial`` statement
tensor, byte-identical to the final-weight commitment of a training claim) classify the
committed test set (X, one-hot targets Y at scale 2^R) with ``k`` of its ``n`` rows right
(with ``biases`` = 1 the statement also commits the biases b, as ``sgd_bias`` trains them).
Its config is the claim's with ``batch_size`` = n and one step: the public schedule's
batch of step 0 is then a permutation of every row (:func:`zkdl.schedule.batch_indices`),
so every row is classified exactly once. Per row i of the batch, with C classes:

    Z'_L = the quantized forward pass of zkdl.tracer (zkReLU, round half up), as sgd_mlp
    S[i, j] = C Z'_L[i, j] + (C - 1 - j)       ranked scores: all distinct in a row; their
                                               argmax is the first argmax of Z'_L
    P one-hot per row (committed, boolean, row sums 1, zero in the padding)
    m[i] = sum_j P[i, j] S[i, j]               (Picked = P * S, RowMax = Picked @ ones(C, C))
    Gap[i, j] = m[i] - S[i, j] >= 0            range-checked: P marks the row's maximum
    correct = sum_{i,j} (P[i, j] Y[i, j])^2 = k 2^(2R)      the public output

Tie rule: a row whose largest score is shared by several classes predicts the lowest class
index among them (numpy's argmax), so the proven count is exactly the count of
:func:`zkdl.predict` / ``zkdl evaluate`` on the same encoded rows. P is unique: a one-hot
row that marks any other class leaves a negative gap at the true maximum.

The ranked scores need the public column index (C - 1 - j): a linear relation with a public
``table`` (the verifier evaluates its multilinear extension), spread over the rows by
RowOne (n x 1, all ones) @ ClassIndex (1 x C). The weights and the test set are
range-checked in every such proof (an eval proof never inherits a bound), and an eval
proof has exactly one step (zkdl.prove_eval; docs/METHODS.md, "Proven test accuracy").
"""

from __future__ import annotations

from zkdl.circuits.builder import CircuitBuilder, Method, Op, register_method
from zkdl.circuits.ir import CircuitError
from zkdl.circuits.sgd_mlp import mlp_layer_runs, mlp_scores

__all__ = ["EvalAccuracyMethod", "EVAL_METHOD", "correct_count", "gap_bits"]

EVAL_METHOD = "eval_accuracy"


def gap_bits(C: int, Q: int) -> int:
    """Bits of the range check of Gap = m - S: |S| <= C 2^(Q-1) + C - 1 for Q-bit scores."""
    return (2 * (C * (1 << (Q - 1)) + C)).bit_length()


def correct_count(value: int, R: int) -> int | None:
    """k from the stated output k 2^(2R) (None if it is not a multiple of 2^(2R))."""
    k, rem = divmod(value, 1 << (2 * R))
    return None if rem else k


class EvalAccuracyMethod(Method):
    """Classification of a committed test set by committed weights (module docstring)."""

    name = EVAL_METHOD
    params = {"biases": 0}
    tracer_step = "zkdl.methods.eval_accuracy_trace:eval_step"
    state_of = {"W0": "W", "b0": "b"}

    @property
    def statement(self) -> dict:
        return {"dataset": ["Xdata", "Ydata"], "initial": ["W0"] + (["b0"] if self.params["biases"] else []),
                "final": [], "outputs": {"correct": "correct"}}

    @staticmethod
    def describe_outputs(statement) -> str:
        """How ``zkdl verify`` reads the proven output (Statement.describe)."""
        n = statement.n_samples
        k = correct_count(statement.outputs["correct"][0], statement.config.R)
        return (f"proven: {k} of {n} test rows classified right (accuracy {k / n:.4f}) by the committed weights"
                if k is not None else "proven output not a whole count")

    def validate(self, config, steps: int) -> None:
        if steps != 1:
            raise CircuitError(f"{EVAL_METHOD}: an evaluation proof has one step, not {steps}")
        if self.params["biases"] not in (0, 1):
            raise CircuitError(f"{EVAL_METHOD}: biases must be 0 (weights only) or 1 (sgd_bias's bias rows)")

    def build(self, b: CircuitBuilder) -> None:
        from zkdl.circuits import gadgets as g
        o = b.options
        if not (o["check_initial_weights"] and o["check_dataset"]) or o.get("prove_loss"):
            raise CircuitError(f"{EVAL_METHOD}: the weights and the test set are range-checked in the proof "
                               f"itself, and it proves no loss")
        cfg, d = b.config, b.dims
        L, Q, B, C = cfg.layers, cfg.Q, cfg.batch_size, b.dims[-1]
        ALL = list(range(1, L + 1))
        b.set_layer_runs(mlp_layer_runs(d))
        g.initial_weights(b, "W0", ALL, lambda l: (d[l - 1], d[l]), Q, check=True)
        if self.params["biases"]:
            from zkdl.methods.sgd_bias import bias_scores
            g.initial_weights(b, "b0", ALL, lambda l: (1, d[l]), Q, check=True, trace="b")
            g.data_selection(b, check=True)
            bias_scores(b, weights="W0", biases="b0")
        else:
            g.data_selection(b, check=True)
            mlp_scores(b, weights="W0")
        _argmax(b, L, B, C)


def _argmax(b: CircuitBuilder, L: int, B: int, C: int) -> None:
    """P = the one-hot first argmax of every row of Z'_L, and the public count of rows where
    it is the target class (module docstring)."""
    from zkdl.circuits import gadgets as g
    insts = [(0, L)]
    act = (lambda l: (B, C))
    top = C * (1 << (b.config.Q - 1)) + C
    b.stacks("RowOne", [L], lambda l: (B, 1), kind="derived_linear", lo=1, hi=1, source=[[1, "RowOne"]])
    b.relation("row_ones", "linear", insts, [Op("out", "RowOne")], {"const": 1})
    b.stacks("ClassIndex", [L], lambda l: (1, C), kind="derived_linear", source=[[1, "ClassIndex"]])
    b.relation("class_index", "linear", insts, [Op("out", "ClassIndex")], {"table": [C - 1 - j for j in range(C)]})
    b.stacks("IndexRows", [L], act, kind="derived_product", lo=0, hi=C - 1, source=[[1, "IndexRows"]])
    b.relation("index_rows", "matmul", insts, [Op("left", "RowOne"), Op("right", "ClassIndex"), Op("out", "IndexRows")],
               {"shift": 0, "coef": 1})
    b.stacks("Ranked", [L], act, kind="derived_linear", source=[[1, "Ranked"]])
    b.relation("ranked", "linear", insts, [Op("out", "Ranked"), Op("term", "Zp", coef=C), Op("term", "IndexRows")])
    b.stacks("Pred", [L], act, kind="committed", lo=0, hi=1, source=[[1, "Pred"]])
    b.relation("bool:Pred", "booleanity", insts, [Op("bits", "Pred")])
    b.relation("onehot:Pred", "row_sum", insts, [Op("x", "Pred")], {"value": 1})
    if B & (B - 1) or C & (C - 1):   # (a padding relation over no padding is degenerate: no such relation)
        b.relation("pad:Pred", "padding", insts, [Op("x", "Pred")])
    b.stacks("Picked", [L], act, kind="derived_product", source=[[1, "Picked"]])
    b.relation("picked", "hadamard", insts, [Op("out", "Picked"), Op("mask", "Pred"), Op("x", "Ranked")],
               {"c0": 0, "c1": 1})
    b.stacks("AllOnes", [L], lambda l: (C, C), kind="derived_linear", lo=1, hi=1, source=[[1, "AllOnes"]])
    b.relation("all_ones", "linear", insts, [Op("out", "AllOnes")], {"const": 1})
    b.stacks("RowMax", [L], act, kind="derived_product", lo=-C * top, hi=C * top, source=[[1, "RowMax"]])
    b.relation("row_max", "matmul", insts, [Op("left", "Picked"), Op("right", "AllOnes"), Op("out", "RowMax")],
               {"shift": 0, "coef": 1})
    g.range_value(b, "Gap", [L], act, gap_bits(C, b.config.Q), 0, source=[[1, "Gap"]])
    b.relation("argmax", "linear", insts, [Op("out", "Gap"), Op("term", "RowMax"), Op("term", "Ranked", coef=-1)],
               {"check": True})
    b.stacks("Hits", [L], act, kind="derived_product", source=[[1, "Hits"]])
    b.relation("hits", "hadamard", insts, [Op("out", "Hits"), Op("mask", "Pred"), Op("x", "Y")], {"c0": 0, "c1": 1})
    b.stacks("correct", [L], lambda l: (1,), kind="public", lo=0, hi=0, source="output.correct")
    b.relation("correct", "sum_squares", insts, [Op("out", "correct"), Op("x", "Hits")])


register_method(EvalAccuracyMethod)
