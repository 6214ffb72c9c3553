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
                                                        (lora's passes with Sd for W0:
                                                        :func:`zkdl.methods.lora.low_rank_passes`)
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
from zkdl.methods.lora import _insts, _product_bound, adapter_updates, adapters, check_adapter_method, low_rank_passes
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
        check_adapter_method(self, config)
        if not 1 <= self.params["density_permille"] <= 1000:
            raise CircuitError(f"sltrain: density_permille must be in 1..1000, got {self.params['density_permille']}")
        if not 0 <= self.params["support_seed"] < (1 << 62):
            raise CircuitError("sltrain: support_seed must be in [0, 2^62)")

    def build(self, b: CircuitBuilder) -> None:
        from zkdl.circuits import gadgets as g
        cfg, d = b.config, b.dims
        L, R, Q, k, ub, r = cfg.layers, cfg.R, cfg.Q, cfg.lr_shift, cfg.update_bits, self.params["rank"]
        ALL, insts = list(range(1, L + 1)), _insts(b, list(range(1, L + 1)))
        sup = layer_supports(d, self.params["density_permille"])
        wshape, sshape = (lambda l: (d[l - 1], d[l])), (lambda l: (sup[l][2], 1))
        entries = {"support": SUPPORT_VERSION, "seed": self.params["support_seed"],
                   "layers": {str(l): list(v) for l, v in sup.items()}}
        b.set_layer_runs(mlp_layer_runs(d))
        adapters(b, "sl_B", "sl_A", r, R + k)
        # the sparse values s (count x 1 per layer) and their dense matrix Sd = scatter(s)
        g.initial_weights(b, "SV0", ALL, sshape, Q, check=b.options["check_initial_weights"], trace="sl_S")
        g.range_value(b, "dSV", ALL, sshape, ub, 1 << (ub - 1), source=[[1, "dSV_{l}"]])
        g.range_value(b, "remSV", ALL, sshape, R + k, 1 << (R + k - 1), source=[[1, "remSV_{l}"]])
        g.weight_chain(b, "SV", "SV0", "dSV", ALL, sshape, trace="sl_S")
        g.data_selection(b, check=b.options["check_dataset"])
        b.stacks("Sd", ALL, wshape, kind="derived_linear", source=[[1, "Sd_{l}"]])
        b.relation("scatter", "entries", insts, [Op("out", "Sd"), Op("table", "SV")],
                   {**entries, "direction": "scatter"})
        low_rank_passes(b, "Sd", "Sd", "sl_B", r)
        adapter_updates(b)
        # the sparse values' gradient: G_W = Ain^T G_Z at the support, a g = 2^(R+k) ds + rem
        gw = _product_bound(b, "Ain", "G_Z", ALL, lambda l: cfg.batch_size)
        b.stacks("GW", ALL, wshape, kind="derived_product", lo=-gw, hi=gw, source=[[1, "GW_{l}"]])
        b.relation("weight_grad", "matmul", insts,
                   [Op("left", "Ain", transpose=True), Op("right", "G_Z"), Op("out", "GW")], {"shift": 0, "coef": 1})
        b.stacks("gSV", ALL, sshape, kind="derived_linear", source=[[1, "gSV_{l}"]])
        b.relation("gather", "entries", insts, [Op("out", "gSV"), Op("table", "GW")],
                   {**entries, "direction": "gather"})
        b.relation("update_S", "linear", insts,
                   [Op("out", "remSV"), Op("term", "gSV", coef=cfg.lr_num), Op("term", "dSV", coef=-(1 << (R + k)))],
                   {"check": True})
        if b.options.get("prove_loss"):
            g.mse_loss_output(b, L)


register_method(SLTrainMethod)
