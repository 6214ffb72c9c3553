"""A second training method, defined outside zkdl (issue 14): SGD with the first layers
frozen. Its circuit is built from the shared gadgets; nothing in prover/ or verifier/
knows it. Used by tests/test_method_plugin.py (and docs/METHODS.md walks through it).

Parameter ``frozen_layers`` = k (default 1, 1 <= k < L). Update rule: W_1..W_k stay as
they are (no gradient, no update); layers k+1..L train by the quantized SGD of the
built-in method. New relations: ``frozen`` (W[t, l] = W0[l] for every step, l <= k)
and ``frozen_final`` (W_final[l] = W0[l], the statement's output)."""

from __future__ import annotations

from zkdl.circuits import gadgets as g
from zkdl.circuits.builder import Method, Op
from zkdl.circuits.ir import CircuitError
from zkdl.circuits.sgd_mlp import mlp_backward, mlp_forward, mlp_layer_runs, mlp_update


class FrozenFirstLayer(Method):
    name = "test_frozen_first_layer"
    statement = {"dataset": ["Xdata", "Ydata"], "initial": ["W0"], "final": ["W_final"], "outputs": {}}
    tracer_step = "frozen_method:trace_step"
    params = {"frozen_layers": 1}

    def validate(self, config, steps):
        k = self.params["frozen_layers"]
        if not 1 <= k < config.layers:
            raise CircuitError(f"frozen_layers must be in 1..{config.layers - 1}, got {k}")

    def build(self, b):
        cfg, T = b.config, b.T
        L, R, Q, k, ub = cfg.layers, cfg.R, cfg.Q, cfg.lr_shift, cfg.update_bits
        d = b.dims
        K = self.params["frozen_layers"]
        H, ALL = list(range(1, L)), list(range(1, L + 1))
        FROZEN, TRAINED = ALL[:K], ALL[K:]
        wshape = lambda l: (d[l - 1], d[l])  # noqa: E731
        b.set_layer_runs(mlp_layer_runs(d))
        g.initial_weights(b, "W0", ALL, wshape, Q, check=b.options["check_initial_weights"])
        g.data_selection(b, check=b.options["check_dataset"])
        # the frozen layers: W[t, l] = W0[l], W_final[l] = W0[l]
        b.stacks("W", FROZEN, wshape, kind="derived_linear", source=[[1, "W_{l}"]])
        b.relation("frozen", "linear", [(t, l) for t in range(T) for l in FROZEN],
                   [Op("out", "W"), Op("term", "W0", steps=lambda t: [0])])
        lo = min(b.bound(b.stack_of("W0", l))[0] for l in FROZEN)
        hi = max(b.bound(b.stack_of("W0", l))[1] for l in FROZEN)
        b.stacks("W_final", FROZEN, wshape, kind="committed", scope="statement", steps=[T - 1], lo=lo, hi=hi,
                 source=[[1, "W_next_{l}"]])
        b.relation("frozen_final", "chain", [(T - 1, l) for l in FROZEN],
                   [Op("out", "W_final", steps=lambda t: [t]), Op("term", "W0", steps=lambda t: [0])])
        # the trained layers, as the built-in method
        g.range_value(b, "dW", TRAINED, wshape, ub, 1 << (ub - 1), source=[[1, "dW_{l}"]])
        g.range_value(b, "remW", TRAINED, wshape, R + k, 1 << (R + k - 1), source=[[1, "remW_{l}"]],
                      defined=True)
        g.weight_chain(b, "W", "W0", "dW", TRAINED, wshape)
        mlp_forward(b)
        mlp_backward(b, [l for l in H if l > K])      # no gradient reaches the frozen layers
        mlp_update(b, TRAINED)


def trace_step(cfg, data, state, t, frozen_layers=1):
    """The built-in SGD step, then the frozen layers put back: never updated."""
    from zkdl import tracer
    tensors, nxt, loss, acc = tracer._step(cfg, data, state, t)
    for i in range(frozen_layers):
        nxt.W[i], nxt.Wf[i], nxt.Wmax[i] = state.W[i], state.Wf[i], state.Wmax[i]
        tensors[f"W_next_{i + 1}"] = state.W[i]
        for name in (f"dW_{i + 1}", f"remW_{i + 1}"):
            tensors.pop(name, None)
    return tensors, nxt, loss, acc
