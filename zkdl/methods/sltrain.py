"""Training method ``sltrain``: sparse plus low-rank weights (pure Python, verifier-safe).

SLTrain (Han et al., "SLTrain: a sparse plus low-rank approach for parameter and memory
efficient pretraining", NeurIPS 2024): W_l = B_l A_l + S_l, with B_l (d_{l-1} x r),
A_l (r x d_l) and S_l nonzero only on a support chosen uniformly at random once (from
a public seed, :func:`zkdl.support.support_positions`) and kept fixed; B, A and the
nonzero values s_l of S train by SGD. The dense W is never formed; in integers (scale
2^R, round half up, remainders range-checked; docs/METHODS.md):

    Sd   = scatter(s)                                   (public index map, nothing committed)
    Fq   = round(Ain B / 2^R)
    Z'   = round((Fq A + Ain Sd) / 2^R)                 forward, zkReLU on hidden layers
    Hq   = round(G_Z A^T / 2^R)                         every layer
    G_A' = round((Hq[l+1] B[l+1]^T + G_Z[l+1] Sd[l+1]^T) / 2^R)
    dB   = round(a Ain^T Hq / 2^(R+k)),  dA = round(a Fq^T G_Z / 2^(R+k))
    ds   = round(a gather(Ain^T G_Z) / 2^(R+k))          the weight gradient at the support
    B', A', s' = B - dB, A - dA, s - ds

``Ain Sd``, ``G_Z Sd^T`` and ``G_W = Ain^T G_Z`` are matmuls whose outputs they define
(never committed); the gradient of s is G_W gathered at the support (a public index
map), and its rescale a g = 2^(R+k) ds + rem is a linear constraint. Per step the proof
commits the activations, the adapters' small tensors and ds (count values per layer).
Parameters: ``rank`` (4), ``density_permille`` (30: 3% of each layer's entries),
``support_seed`` (0).
"""

from __future__ import annotations

from zkdl.circuits.builder import CircuitBuilder, Method, Op, register_method
from zkdl.circuits.ir import CircuitError
from zkdl.circuits.sgd_mlp import mlp_layer_runs
from zkdl.methods.lora import MAX_RANK, _insts, _product_bound
from zkdl.support import SUPPORT_VERSION, support_count

__all__ = ["SLTrainMethod", "layer_supports"]


def layer_supports(dims, permille: int) -> dict:
    """layer -> (rows, cols, count) of its sparse part."""
    return {l: (dims[l - 1], dims[l], support_count(dims[l - 1], dims[l], permille)) for l in range(1, len(dims))}


class SLTrainMethod(Method):
    """Sparse plus low-rank SGD of the bias-free ReLU MLP, MSE loss (module docstring)."""

    name = "sltrain"
    params = {"rank": 4, "density_permille": 30, "support_seed": 0}
    tracer_step = "zkdl.methods.sltrain_trace:trace_step"
    initial_state = "zkdl.methods.sltrain_trace:initial_state"
    effective_weights = "zkdl.methods.sltrain_trace:effective_weights"
    statement = {"dataset": ["Xdata", "Ydata"], "initial": ["LB0", "LA0", "SV0"],
                 "final": ["LB_final", "LA_final", "SV_final"], "outputs": {"loss": "losses"}}
    state_of = {"LB0": "sl_B", "LA0": "sl_A", "SV0": "sl_S", "LB_final": "sl_B", "LA_final": "sl_A",
                "SV_final": "sl_S"}

    def validate(self, config, steps: int) -> None:
        if config.loss != "mse":
            raise CircuitError(f"sltrain supports loss 'mse' only, got {config.loss!r}")
        if not 1 <= self.params["rank"] <= MAX_RANK:
            raise CircuitError(f"sltrain: rank must be in 1..{MAX_RANK}, got {self.params['rank']}")
        if not 1 <= self.params["density_permille"] <= 1000:
            raise CircuitError(f"sltrain: density_permille must be in 1..1000, got {self.params['density_permille']}")
        if not 0 <= self.params["support_seed"] < (1 << 62):
            raise CircuitError("sltrain: support_seed must be in [0, 2^62)")

    def build(self, b: CircuitBuilder) -> None:
        from zkdl.circuits import gadgets as g
        cfg, d, B = b.config, b.dims, b.config.batch_size
        L, R, Q, k, ub, r = cfg.layers, cfg.R, cfg.Q, cfg.lr_shift, cfg.update_bits, self.params["rank"]
        ALL, H = list(range(1, L + 1)), list(range(1, L))
        sup = layer_supports(d, self.params["density_permille"])
        wshape, bshape, ashape = (lambda l: (d[l - 1], d[l])), (lambda l: (d[l - 1], r)), (lambda l: (r, d[l]))
        sshape, act, low = (lambda l: (sup[l][2], 1)), (lambda l: (B, d[l])), (lambda l: (B, r))
        half = lambda n: 1 << (n - 1)  # noqa: E731
        entries = {"support": SUPPORT_VERSION, "seed": self.params["support_seed"],
                   "layers": {str(l): list(v) for l, v in sup.items()}}
        b.set_layer_runs(mlp_layer_runs(d))
        chk = b.options["check_initial_weights"]
        for base, shape, trace in (("LB0", bshape, "sl_B"), ("LA0", ashape, "sl_A"), ("SV0", sshape, "sl_S")):
            g.initial_weights(b, base, ALL, shape, Q, check=chk, trace=trace)
        g.data_selection(b, check=b.options["check_dataset"])
        for x, shape in (("LB", bshape), ("LA", ashape), ("SV", sshape)):
            g.range_value(b, f"d{x}", ALL, shape, ub, half(ub), source=[[1, f"d{x}_{{l}}"]])
            g.range_value(b, f"rem{x}", ALL, shape, R + k, half(R + k), source=[[1, f"rem{x}_{{l}}"]],
                          defined=x != "SV")
        for x, shape, trace in (("LB", bshape, "sl_B"), ("LA", ashape, "sl_A"), ("SV", sshape, "sl_S")):
            g.weight_chain(b, x, f"{x}0", f"d{x}", ALL, shape, trace=trace)
        b.stacks("Sd", ALL, wshape, kind="derived_linear", source=[[1, "Sd_{l}"]])
        b.relation("scatter", "entries", _insts(b, ALL), [Op("out", "Sd"), Op("table", "SV")],
                   {**entries, "direction": "scatter"})
        self._passes(b, ALL, H, act, low, half)
        a = cfg.lr_num
        g.rescaled_matmul(b, "update_B", _insts(b, ALL), left=Op("left", "Ain", transpose=True),
                          right=Op("right", "Hq"), quotient="dLB", remainder="remLB", shift=R + k, coef=a)
        g.rescaled_matmul(b, "update_A", _insts(b, ALL), left=Op("left", "Fq", transpose=True),
                          right=Op("right", "G_Z"), quotient="dLA", remainder="remLA", shift=R + k, coef=a)
        gw = _product_bound(b, "Ain", "G_Z", ALL, lambda l: B)
        b.stacks("GW", ALL, wshape, kind="derived_product", lo=-gw, hi=gw, source=[[1, "GW_{l}"]])
        b.relation("weight_grad", "matmul", _insts(b, ALL),
                   [Op("left", "Ain", transpose=True), Op("right", "G_Z"), Op("out", "GW")], {"shift": 0, "coef": 1})
        b.stacks("gSV", ALL, sshape, kind="derived_linear", source=[[1, "gSV_{l}"]])
        b.relation("gather", "entries", _insts(b, ALL), [Op("out", "gSV"), Op("table", "GW")],
                   {**entries, "direction": "gather"})
        b.relation("update_S", "linear", _insts(b, ALL),
                   [Op("out", "remSV"), Op("term", "gSV", coef=a), Op("term", "dSV", coef=-(1 << (R + k)))],
                   {"check": True})
        if b.options.get("prove_loss"):
            g.mse_loss_output(b, L)

    @staticmethod
    def _passes(b, ALL, H, act, low, half) -> None:
        """Forward (Fq, Zs = Ain Sd, Zs + Fq A = 2^R Z' + remZ) and backward (Hq; GS =
        G_Z[l+1] Sd[l+1]^T, GS + Hq[l+1] B[l+1]^T = 2^R G_A' + remGA, G_Z = (1 - S) G_A')."""
        from zkdl.circuits import gadgets as g
        cfg, d, B = b.config, b.dims, b.config.batch_size
        L, R, Q, r = cfg.layers, cfg.R, cfg.Q, b.options["method_params"]["rank"]
        g.zkrelu_forward(b, H, act, Q)
        g.range_value(b, "Zp", [L], act, Q, half(Q), role=lambda l: "out", source=[[1, "Zp_{l}"]])
        g.range_value(b, "remZ", ALL, act, R, half(R), source=[[1, "remZ_{l}"]], defined=True)
        g.gather(b, "Ain", "A", ALL, lambda l: (B, d[l - 1]), lambda l: l - 1, [[1, "A_{prev}"]])
        g.range_value(b, "Fq", ALL, low, Q, half(Q), source=[[1, "Fq_{l}"]])
        g.range_value(b, "remF", ALL, low, R, half(R), source=[[1, "remF_{l}"]], defined=True)
        g.rescaled_matmul(b, "lora_down", _insts(b, ALL), left=Op("left", "Ain"), right=Op("right", "LB"),
                          quotient="Fq", remainder="remF", shift=R)
        zb = _product_bound(b, "Ain", "Sd", ALL, lambda l: d[l - 1])
        b.stacks("Zs", ALL, act, kind="derived_product", lo=-zb, hi=zb, source=[[1, "Zs_{l}"]])
        b.relation("sparse_forward", "matmul", _insts(b, ALL),
                   [Op("left", "Ain"), Op("right", "Sd"), Op("out", "Zs")], {"shift": 0, "coef": 1})
        b.relation("forward", "matmul", _insts(b, ALL),
                   [Op("left", "Fq"), Op("right", "LA"), Op("out", "Zp", coef=1 << R), Op("out", "remZ"),
                    Op("out", "Zs", coef=-1)], {"shift": R, "coef": 1})
        g.mse_gradient(b, L, act)
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
        g.gather(b, "LBn", "LB", H, lambda l: (d[l], r), nxt, [[1, "sl_B_{next}"]])
        g.gather(b, "Sdn", "Sd", H, lambda l: (d[l], d[l + 1]), nxt, [[1, "Sd_{next}"]])
        gb = _product_bound(b, "GZn", "Sdn", H, lambda l: d[l + 1])
        b.stacks("GS", H, act, kind="derived_product", lo=-gb, hi=gb, source=[[1, "GS_{l}"]])
        b.relation("sparse_backward", "matmul", _insts(b, H),
                   [Op("left", "GZn"), Op("right", "Sdn", transpose=True), Op("out", "GS")], {"shift": 0, "coef": 1})
        b.relation("backward", "matmul", _insts(b, H),
                   [Op("left", "Hqn"), Op("right", "LBn", transpose=True), Op("out", "G_Ap", coef=1 << R),
                    Op("out", "remGA"), Op("out", "GS", coef=-1)], {"shift": R, "coef": 1})


register_method(SLTrainMethod)
