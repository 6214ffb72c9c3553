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

__all__ = ["LoRAMethod"]

MAX_RANK = 1 << 12


def _insts(b: CircuitBuilder, layers):
    return [(t, l) for t in range(b.T) for l in layers]


def _product_bound(b: CircuitBuilder, left: str, right: str, layers, kdim) -> int:
    """max over layers of kdim(l) |left| |right| (bounds of an unrescaled matmul output)."""
    top = 0
    for l in layers:
        lo = max(abs(v) for v in b.bound(b.stack_of(left, l)))
        ro = max(abs(v) for v in b.bound(b.stack_of(right, l)))
        top = max(top, kdim(l) * lo * ro)
    return top


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
        if config.loss != "mse":
            raise CircuitError(f"lora supports loss 'mse' only, got {config.loss!r}")
        r = self.params["rank"]
        if not 1 <= r <= MAX_RANK:
            raise CircuitError(f"lora: rank must be in 1..{MAX_RANK}, got {r}")

    def build(self, b: CircuitBuilder) -> None:
        from zkdl.circuits import gadgets as g
        cfg, d, B = b.config, b.dims, b.config.batch_size
        L, R, Q, k, ub, r = cfg.layers, cfg.R, cfg.Q, cfg.lr_shift, cfg.update_bits, self.params["rank"]
        ALL, H = list(range(1, L + 1)), list(range(1, L))
        wshape, bshape, ashape = (lambda l: (d[l - 1], d[l])), (lambda l: (d[l - 1], r)), (lambda l: (r, d[l]))
        act, low = (lambda l: (B, d[l])), (lambda l: (B, r))
        half = lambda n: 1 << (n - 1)  # noqa: E731
        b.set_layer_runs(mlp_layer_runs(d))

        # statement: the frozen base (range-checked with the dataset), the adapters, the data
        g.initial_weights(b, "Wbase", ALL, wshape, Q, check=b.options["check_dataset"], trace="base")
        g.initial_weights(b, "LB0", ALL, bshape, Q, check=b.options["check_initial_weights"], trace="lora_B")
        g.initial_weights(b, "LA0", ALL, ashape, Q, check=b.options["check_initial_weights"], trace="lora_A")
        g.data_selection(b, check=b.options["check_dataset"])
        for x, shape in (("LB", bshape), ("LA", ashape)):
            g.range_value(b, f"d{x}", ALL, shape, ub, half(ub), source=[[1, f"d{x}_{{l}}"]])
            g.range_value(b, f"rem{x}", ALL, shape, R + k, half(R + k), source=[[1, f"rem{x}_{{l}}"]],
                          defined=True)
        g.weight_chain(b, "LB", "LB0", "dLB", ALL, bshape, trace="lora_B")
        g.weight_chain(b, "LA", "LA0", "dLA", ALL, ashape, trace="lora_A")
        b.stacks("Wb", ALL, wshape, kind="derived_linear", source=[[1, "base_{l}"]])
        b.relation("base", "linear", _insts(b, ALL), [Op("out", "Wb"), Op("term", "Wbase", steps=lambda t: [0])])
        self._forward(b, ALL, H, act, low, half)
        self._backward(b, ALL, H, act, low, half)
        a = cfg.lr_num
        g.rescaled_matmul(b, "update_B", _insts(b, ALL), left=Op("left", "Ain", transpose=True),
                          right=Op("right", "Hq"), quotient="dLB", remainder="remLB", shift=R + k, coef=a)
        g.rescaled_matmul(b, "update_A", _insts(b, ALL), left=Op("left", "Fq", transpose=True),
                          right=Op("right", "G_Z"), quotient="dLA", remainder="remLA", shift=R + k, coef=a)
        if b.options.get("prove_loss"):
            g.mse_loss_output(b, L)

    @staticmethod
    def _forward(b, ALL, H, act, low, half) -> None:
        """Fq = round(Ain B / 2^R); Z0 = Ain W0 (defined by its matmul); Z0 + Fq A = 2^R Z' + remZ."""
        from zkdl.circuits import gadgets as g
        cfg, d, B = b.config, b.dims, b.config.batch_size
        L, R, Q = cfg.layers, cfg.R, cfg.Q
        g.zkrelu_forward(b, H, act, Q)
        g.range_value(b, "Zp", [L], act, Q, half(Q), role=lambda l: "out", source=[[1, "Zp_{l}"]])
        g.range_value(b, "remZ", ALL, act, R, half(R), source=[[1, "remZ_{l}"]], defined=True)
        g.gather(b, "Ain", "A", ALL, lambda l: (B, d[l - 1]), lambda l: l - 1, [[1, "A_{prev}"]])
        g.range_value(b, "Fq", ALL, low, Q, half(Q), source=[[1, "Fq_{l}"]])
        g.range_value(b, "remF", ALL, low, R, half(R), source=[[1, "remF_{l}"]], defined=True)
        g.rescaled_matmul(b, "lora_down", _insts(b, ALL), left=Op("left", "Ain"), right=Op("right", "LB"),
                          quotient="Fq", remainder="remF", shift=R)
        zb = _product_bound(b, "Ain", "Wb", ALL, lambda l: d[l - 1])
        b.stacks("Z0", ALL, act, kind="derived_product", lo=-zb, hi=zb, source=[[1, "Z0_{l}"]])
        b.relation("base_forward", "matmul", _insts(b, ALL),
                   [Op("left", "Ain"), Op("right", "Wb"), Op("out", "Z0")], {"shift": 0, "coef": 1})
        b.relation("forward", "matmul", _insts(b, ALL),
                   [Op("left", "Fq"), Op("right", "LA"), Op("out", "Zp", coef=1 << R), Op("out", "remZ"),
                    Op("out", "Z0", coef=-1)], {"shift": R, "coef": 1})
        g.mse_gradient(b, L, act)

    @staticmethod
    def _backward(b, ALL, H, act, low, half) -> None:
        """Hq = round(G_Z A^T / 2^R) (every layer); into hidden layer l:
        GB0 = G_Z[l+1] W0[l+1]^T (defined by its matmul), GB0 + Hq[l+1] B[l+1]^T =
        2^R G_A' + remGA, G_Z = (1 - S) * G_A'."""
        from zkdl.circuits import gadgets as g
        cfg, d, B = b.config, b.dims, b.config.batch_size
        R, Q, r = cfg.R, cfg.Q, b.options["method_params"]["rank"]
        if H:
            g.range_value(b, "G_Ap", H, act, Q, half(Q), source=[[1, "G_Ap_{l}"]])
            g.range_value(b, "remGA", H, act, R, half(R), source=[[1, "remGA_{l}"]], defined=True)
            g.zkrelu_backward(b, H, act)
        g.range_value(b, "Hq", ALL, low, Q, half(Q), source=[[1, "Hq_{l}"]])
        g.range_value(b, "remH", ALL, low, R, half(R), source=[[1, "remH_{l}"]], defined=True)
        g.rescaled_matmul(b, "lora_up_grad", _insts(b, ALL), left=Op("left", "G_Z"),
                          right=Op("right", "LA", transpose=True), quotient="Hq", remainder="remH", shift=R)
        if not H:
            return
        nxt = lambda l: l + 1  # noqa: E731
        g.gather(b, "GZn", "G_Z", H, lambda l: (B, d[l + 1]), nxt, [[1, "G_Z_{next}"]])
        g.gather(b, "Hqn", "Hq", H, low, nxt, [[1, "Hq_{next}"]])
        g.gather(b, "LBn", "LB", H, lambda l: (d[l], r), nxt, [[1, "lora_B_{next}"]])
        b.stacks("Wbn", H, lambda l: (d[l], d[l + 1]), kind="derived_linear", source=[[1, "base_{next}"]])
        b.relation("gather:Wbn", "linear", _insts(b, H),
                   [Op("out", "Wbn"), Op("term", "Wbase", layer=nxt, steps=lambda t: [0])], gather=True)
        gb = _product_bound(b, "GZn", "Wbn", H, lambda l: d[l + 1])
        b.stacks("GB0", H, act, kind="derived_product", lo=-gb, hi=gb, source=[[1, "GB0_{l}"]])
        b.relation("base_backward", "matmul", _insts(b, H),
                   [Op("left", "GZn"), Op("right", "Wbn", transpose=True), Op("out", "GB0")], {"shift": 0, "coef": 1})
        b.relation("backward", "matmul", _insts(b, H),
                   [Op("left", "Hqn"), Op("right", "LBn", transpose=True), Op("out", "G_Ap", coef=1 << R),
                    Op("out", "remGA"), Op("out", "GB0", coef=-1)], {"shift": R, "coef": 1})


register_method(LoRAMethod)
