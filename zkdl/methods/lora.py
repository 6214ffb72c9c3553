"""Training method ``lora``: low-rank adapters on a frozen base (pure Python, verifier-safe).

LoRA (Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", ICLR 2022): layer
l computes ``x W_l`` with ``W_l = W0_l + B_l A_l``, the base ``W0_l`` (d_{l-1} x d_l)
frozen, the adapters ``B_l`` (d_{l-1} x r, "down") and ``A_l`` (r x d_l, "up") trained by
SGD. As in LoRA implementations the product ``B A`` is never formed; in integers (scale
2^R, round half up, every remainder range-checked; docs/METHODS.md):

    Fq   = round(Ain B / 2^R)                       (B x r)
    Z'   = round((Ain W0 + Fq A) / 2^R)             forward, zkReLU on hidden layers
    Hq   = round(G_Z A^T / 2^R)                     (B x r), every layer
    G_A' = round((G_Z[l+1] W0[l+1]^T + Hq[l+1] B[l+1]^T) / 2^R)   into hidden layer l
    dB   = round(a Ain^T Hq / 2^(R+k)),  dA = round(a Fq^T G_Z / 2^(R+k))
    B'   = B - dB,  A' = A - dA

(the chain rule of W = W0 + B A: dL/dB = G_W A^T = Ain^T (G_Z A^T), dL/dA = B^T G_W =
(Ain B)^T G_Z, so the weight gradient G_W is never formed). Per step the proof commits the
activations and the adapters' small tensors only; ``Ain W0`` and ``G_Z W0^T`` are
matmuls with unrescaled outputs that define them (nothing committed). The base is a
``frozen`` statement tensor: the same commitment in every proof of a claim.

Parameter ``rank`` (r, default 4). Initial state: the base is the tracer's deterministic
initialization of the config (or a given one, ``zkdl train --base``), B uniform in
[-M, M] with M = floor(2^R / sqrt(d_{l-1})) from the public init_seed, A = 0.
"""

from __future__ import annotations

from zkdl.circuits.builder import CircuitBuilder, Method, Op, register_method
from zkdl.circuits.ir import CircuitError
from zkdl.circuits.sgd_mlp import mlp_layer_runs

__all__ = ["LoRAMethod", "adapters", "frozen_base", "low_rank_passes", "adapter_updates"]

MAX_RANK = 1 << 12


def _insts(b: CircuitBuilder, layers):
    return [(t, l) for t in range(b.T) for l in layers]


def _half(n: int) -> int:
    return 1 << (n - 1)


def _product_bound(b: CircuitBuilder, left: str, right: str, layers, kdim) -> int:
    """max over layers of kdim(l) |left| |right| (bounds of an unrescaled matmul output)."""
    top = 0
    for l in layers:
        lo = max(abs(v) for v in b.bound(b.stack_of(left, l)))
        ro = max(abs(v) for v in b.bound(b.stack_of(right, l)))
        top = max(top, kdim(l) * lo * ro)
    return top


def adapters(b: CircuitBuilder, trace_B: str, trace_A: str, rank: int, rem_bits: int) -> None:
    """The adapters B (d_{l-1} x r) and A (r x d_l): their statement tensors LB0 / LA0
    (range-checked unless inherited), updates dLB / dLA with remainders of ``rem_bits``
    (defined by their matmuls) and chains LB / LA (``trace_B`` / ``trace_A``: the state
    names in the trace)."""
    from zkdl.circuits import gadgets as g
    cfg, d = b.config, b.dims
    ALL, Q, ub = list(range(1, cfg.layers + 1)), cfg.Q, cfg.update_bits
    shapes = {"LB": lambda l: (d[l - 1], rank), "LA": lambda l: (rank, d[l])}
    for x, trace in (("LB", trace_B), ("LA", trace_A)):
        g.initial_weights(b, f"{x}0", ALL, shapes[x], Q, check=b.options["check_initial_weights"], trace=trace)
        g.range_value(b, f"d{x}", ALL, shapes[x], ub, _half(ub), source=[[1, f"d{x}_{{l}}"]])
        g.range_value(b, f"rem{x}", ALL, shapes[x], rem_bits, _half(rem_bits), source=[[1, f"rem{x}_{{l}}"]],
                      defined=True)
        g.weight_chain(b, x, f"{x}0", f"d{x}", ALL, shapes[x], trace=trace)


def frozen_base(b: CircuitBuilder) -> None:
    """The frozen base W0 (statement ``Wbase``, range-checked with the dataset) and its
    per-step copy Wb[t, l] = W0[l] (relation ``base``), which the matmuls read."""
    from zkdl.circuits import gadgets as g
    cfg, d = b.config, b.dims
    ALL = list(range(1, cfg.layers + 1))
    wshape = lambda l: (d[l - 1], d[l])  # noqa: E731
    g.initial_weights(b, "Wbase", ALL, wshape, cfg.Q, check=b.options["check_dataset"], trace="base")
    b.stacks("Wb", ALL, wshape, kind="derived_linear", source=[[1, "base_{l}"]])
    b.relation("base", "linear", _insts(b, ALL), [Op("out", "Wb"), Op("term", "Wbase", steps=lambda t: [0])])


def low_rank_passes(b: CircuitBuilder, side: str, side_trace: str, trace_B: str, rank: int) -> None:
    """Forward and backward of x (X + B A), X a dense tensor the proof derives per step
    (``side``: LoRA's base copy ``Wb``, SLTrain's scattered sparse part ``Sd``; its trace
    name ``side_trace``), with B A never formed:

        Fq = round(Ain B / 2^R);  Zx = Ain X;  Zx + Fq A = 2^R Z' + remZ      (zkReLU on hidden layers)
        Hq = round(G_Z A^T / 2^R)  (every layer);  into hidden layer l:
        Gx = G_Z[l+1] X[l+1]^T;  Gx + Hq[l+1] B[l+1]^T = 2^R G_A' + remGA;  G_Z = (1 - S) G_A'

    Zx and Gx are defined by their matmuls (never committed)."""
    from zkdl.circuits import gadgets as g
    cfg, d, B = b.config, b.dims, b.config.batch_size
    L, R, Q = cfg.layers, cfg.R, cfg.Q
    ALL, H = list(range(1, L + 1)), list(range(1, L))
    act, low = (lambda l: (B, d[l])), (lambda l: (B, rank))
    g.zkrelu_forward(b, H, act, Q)
    g.range_value(b, "Zp", [L], act, Q, _half(Q), role=lambda l: "out", source=[[1, "Zp_{l}"]])
    g.range_value(b, "remZ", ALL, act, R, _half(R), source=[[1, "remZ_{l}"]], defined=True)
    g.gather(b, "Ain", "A", ALL, lambda l: (B, d[l - 1]), lambda l: l - 1, [[1, "A_{prev}"]])
    g.range_value(b, "Fq", ALL, low, Q, _half(Q), source=[[1, "Fq_{l}"]])
    g.range_value(b, "remF", ALL, low, R, _half(R), source=[[1, "remF_{l}"]], defined=True)
    g.rescaled_matmul(b, "lora_down", _insts(b, ALL), left=Op("left", "Ain"), right=Op("right", "LB"),
                      quotient="Fq", remainder="remF", shift=R)
    zb = _product_bound(b, "Ain", side, ALL, lambda l: d[l - 1])
    b.stacks("Zx", ALL, act, kind="derived_product", lo=-zb, hi=zb, source=[[1, "Zx_{l}"]])
    b.relation("side_forward", "matmul", _insts(b, ALL),
               [Op("left", "Ain"), Op("right", side), Op("out", "Zx")], {"shift": 0, "coef": 1})
    b.relation("forward", "matmul", _insts(b, ALL),
               [Op("left", "Fq"), Op("right", "LA"), Op("out", "Zp", coef=1 << R), Op("out", "remZ"),
                Op("out", "Zx", coef=-1)], {"shift": R, "coef": 1})
    g.mse_gradient(b, L, act)
    if H:
        g.range_value(b, "G_Ap", H, act, Q, _half(Q), source=[[1, "G_Ap_{l}"]])
        g.range_value(b, "remGA", H, act, R, _half(R), source=[[1, "remGA_{l}"]], defined=True)
        g.zkrelu_backward(b, H, act)
    g.range_value(b, "Hq", ALL, low, Q, _half(Q), source=[[1, "Hq_{l}"]])
    g.range_value(b, "remH", ALL, low, R, _half(R), source=[[1, "remH_{l}"]], defined=True)
    g.rescaled_matmul(b, "lora_up_grad", _insts(b, ALL), left=Op("left", "G_Z"),
                      right=Op("right", "LA", transpose=True), quotient="Hq", remainder="remH", shift=R)
    if not H:
        return
    nxt = lambda l: l + 1  # noqa: E731
    g.gather(b, "GZn", "G_Z", H, lambda l: (B, d[l + 1]), nxt, [[1, "G_Z_{next}"]])
    g.gather(b, "Hqn", "Hq", H, low, nxt, [[1, "Hq_{next}"]])
    g.gather(b, "LBn", "LB", H, lambda l: (d[l], rank), nxt, [[1, trace_B + "_{next}"]])
    g.gather(b, "Xn", side, H, lambda l: (d[l], d[l + 1]), nxt, [[1, side_trace + "_{next}"]])
    gb = _product_bound(b, "GZn", "Xn", H, lambda l: d[l + 1])
    b.stacks("Gx", H, act, kind="derived_product", lo=-gb, hi=gb, source=[[1, "Gx_{l}"]])
    b.relation("side_backward", "matmul", _insts(b, H),
               [Op("left", "GZn"), Op("right", "Xn", transpose=True), Op("out", "Gx")], {"shift": 0, "coef": 1})
    b.relation("backward", "matmul", _insts(b, H),
               [Op("left", "Hqn"), Op("right", "LBn", transpose=True), Op("out", "G_Ap", coef=1 << R),
                Op("out", "remGA"), Op("out", "Gx", coef=-1)], {"shift": R, "coef": 1})


def adapter_updates(b: CircuitBuilder) -> None:
    """dB = round(a Ain^T Hq / 2^(R+k)), dA = round(a Fq^T G_Z / 2^(R+k)) (the chain rule of
    W = X + B A: dL/dB = Ain^T (G_Z A^T), dL/dA = (Ain B)^T G_Z)."""
    from zkdl.circuits import gadgets as g
    cfg = b.config
    insts, s, a = _insts(b, list(range(1, cfg.layers + 1))), cfg.R + cfg.lr_shift, cfg.lr_num
    g.rescaled_matmul(b, "update_B", insts, left=Op("left", "Ain", transpose=True), right=Op("right", "Hq"),
                      quotient="dLB", remainder="remLB", shift=s, coef=a)
    g.rescaled_matmul(b, "update_A", insts, left=Op("left", "Fq", transpose=True), right=Op("right", "G_Z"),
                      quotient="dLA", remainder="remLA", shift=s, coef=a)


class LoRAMethod(Method):
    """LoRA of the bias-free ReLU MLP with the MSE loss (module docstring)."""

    name = "lora"
    params = {"rank": 4}
    tracer_step = "zkdl.methods.lora_trace:trace_step"
    initial_state = "zkdl.methods.lora_trace:initial_state"
    effective_weights = "zkdl.methods.lora_trace:effective_weights"
    statement = {"dataset": ["Xdata", "Ydata"], "frozen": ["Wbase"], "initial": ["LB0", "LA0"],
                 "final": ["LB_final", "LA_final"], "outputs": {"loss": "losses"}}
    state_of = {"Wbase": "base", "LB0": "lora_B", "LA0": "lora_A", "LB_final": "lora_B", "LA_final": "lora_A"}
    constant_state = ("base",)

    def validate(self, config, steps: int) -> None:
        check_adapter_method(self, config)

    def build(self, b: CircuitBuilder) -> None:
        from zkdl.circuits import gadgets as g
        cfg, r = b.config, self.params["rank"]
        b.set_layer_runs(mlp_layer_runs(b.dims))
        frozen_base(b)
        adapters(b, "lora_B", "lora_A", r, cfg.R + cfg.lr_shift)
        g.data_selection(b, check=b.options["check_dataset"])
        low_rank_passes(b, "Wb", "base", "lora_B", r)
        adapter_updates(b)
        if b.options.get("prove_loss"):
            g.mse_loss_output(b, cfg.layers)


def check_adapter_method(m: Method, config) -> None:
    """The MSE loss and 1 <= rank <= MAX_RANK (a clear error otherwise)."""
    if config.loss != "mse":
        raise CircuitError(f"{m.name} supports loss 'mse' only, got {config.loss!r}")
    if not 1 <= m.params["rank"] <= MAX_RANK:
        raise CircuitError(f"{m.name}: rank must be in 1..{MAX_RANK}, got {m.params['rank']}")


register_method(LoRAMethod)
