"""Federated averaging (FedAvg) and FedStale: the public schedule and the aggregation circuit
(pure Python, verifier-safe: no numpy, numba, prover or tracer imports).

A federated run has K clients (each its own committed dataset: a shard of the data), R
rounds and E local SGD steps per round (docs/METHODS.md, "Federated averaging"):

* round r's participants P_r: the ``participants`` clients with the smallest
  SHA-256(participation_seed, r, k) (:func:`participants`, public like the batch schedule);
* client k in P_r runs E steps of ``sgd_mlp`` from the global weights W_r on its shard,
  under the config :func:`client_config` (the base config with a per-(round, client)
  batch seed and ``steps`` = E), giving W_{r,k}; its update is D_{r,k} = W_{r,k} - W_r;
* FedStale: a client outside P_r that took part before contributes its last update
  D_{last(k),k}, weighted by beta = beta_num / 2^beta_shift (beta = 0: FedAvg);
* the server: 2^s W_{r+1} + rem = 2^s W_r + sum_k e_{r,k} D_k with public integer
  coefficients e_{r,k} (:func:`coefficients`) and rem in [-2^(s-1), 2^(s-1)).

The aggregation is proven by its own one-step proof of the method ``fedavg_agg``
(:class:`FedAggMethod`): its statement inputs FI0..FI{n-1} are commitments to W_r, the
clients' final weights and the stale rounds' weights (byte-identical to the commitments
of the client proofs and of earlier aggregations, which the audit checks), its output
FW_final is W_{r+1}; one linear constraint 2^s FW_final + rem = sum_i c_i FI_i, rem
range-checked, the output range-checked to Q bits (the inputs too, unless their bounds are
inherited: ``check_initial_weights`` False, as the federated claims of zkdl.federated_sim).
"""

from __future__ import annotations

import hashlib

from zkdl.circuits.builder import CircuitBuilder, Method, Op, method_params, register_method
from zkdl.circuits.ir import CircuitError

__all__ = ["FedAggMethod", "participants", "client_config", "client_batch_seed", "coefficients",
           "aggregation_inputs", "aggregation_params", "FEDERATED_FORMAT", "AGG_METHOD", "MAX_CLIENTS",
           "MAX_ROUNDS", "MAX_INPUTS", "federation_defaults", "check_federation", "stale_sources"]

FEDERATED_FORMAT = "zkdl-federated-claim/v1"
AGG_METHOD = "fedavg_agg"
MAX_CLIENTS = 16
MAX_ROUNDS = 1024
MAX_INPUTS = 1 + 3 * MAX_CLIENTS  # W_r, fresh finals, stale finals, stale globals
SCHEDULE_VERSION = 1


def federation_defaults() -> dict:
    """The federation parameters (``zkdl train --method fedavg --method-param KEY=INT``)."""
    return {"clients": 4, "rounds": 3, "local_steps": 1, "participants": 0, "participation_seed": 0,
            "shift": 12, "beta_num": 0, "beta_shift": 2}


def check_federation(fed: dict) -> None:
    """Raise CircuitError unless the federation parameters are usable."""
    need = federation_defaults()
    if not isinstance(fed, dict):
        raise CircuitError("federation parameters must be an object")
    if set(fed) - set(need) - {"client_weights"}:
        raise CircuitError(f"federation parameters: unknown keys {sorted(set(fed) - set(need) - {'client_weights'})} "
                           f"(known: {', '.join(sorted(need))})")
    for k in need:
        if type(fed.get(k)) is not int:
            raise CircuitError(f"federation parameter {k!r} must be an int")
    K = fed["clients"]
    if not 1 <= K <= MAX_CLIENTS:
        raise CircuitError(f"clients must be in 1..{MAX_CLIENTS}, got {K}")
    if not 1 <= fed["rounds"] <= MAX_ROUNDS:
        raise CircuitError(f"rounds must be in 1..{MAX_ROUNDS}, got {fed['rounds']}")
    if not 1 <= fed["local_steps"] <= 64:
        raise CircuitError(f"local_steps must be in 1..64, got {fed['local_steps']}")
    if not 1 <= fed["participants"] <= K:
        raise CircuitError(f"participants must be in 1..clients={K}, got {fed['participants']}")
    if not 0 <= fed["participation_seed"] < (1 << 62):
        raise CircuitError("participation_seed must be in [0, 2^62)")
    if not 1 <= fed["shift"] <= 24:
        raise CircuitError(f"shift (s of the weights a/2^s) must be in 1..24, got {fed['shift']}")
    if not 0 <= fed["beta_shift"] <= 16 or not 0 <= fed["beta_num"] <= (1 << fed["beta_shift"]):
        raise CircuitError("beta = beta_num / 2^beta_shift must lie in [0, 1] with beta_shift in 0..16")
    w = fed.get("client_weights")
    if not (isinstance(w, list) and len(w) == K and all(type(x) is int and 1 <= x < (1 << 32) for x in w)):
        raise CircuitError(f"client_weights must be {K} ints in [1, 2^32) (the clients' shard sizes)")


def _h(*parts) -> int:
    h = hashlib.sha256(b"zkdl/fedavg/v1")
    for p in parts:
        h.update(int(p).to_bytes(8, "little"))
    return int.from_bytes(h.digest()[:8], "little")


def participants(seed: int, r: int, K: int, m: int) -> list[int]:
    """P_r: the m clients (of 0..K-1) with the smallest SHA-256(seed, r, k), ascending."""
    ranked = sorted(range(K), key=lambda k: (_h(0, seed, r, k), k))
    return sorted(ranked[:m])


def client_batch_seed(batch_seed: int, r: int, k: int) -> int:
    """The batch seed of client k's local steps in round r (a fresh public schedule per round)."""
    return _h(1, batch_seed, r, k) >> 1


def client_config(base: dict, r: int, k: int, local_steps: int) -> dict:
    """The config dict of client k's proof of round r: the base config with the round's batch
    seed and ``steps`` = E (a proof of another round or client has another config)."""
    return {**base, "batch_seed": client_batch_seed(int(base["batch_seed"]), r, k), "steps": int(local_steps)}


def stale_sources(fed: dict, r: int) -> dict:
    """FedStale: {client k not in P_r: last(k), the latest round < r it took part in}
    (empty for beta = 0: FedAvg)."""
    if fed["beta_num"] == 0:
        return {}
    K, m, seed = fed["clients"], fed["participants"], fed["participation_seed"]
    now = set(participants(seed, r, K, m))
    out = {}
    for q in range(r - 1, -1, -1):
        for k in participants(seed, q, K, m):
            if k not in now and k not in out:
                out[k] = q
    return dict(sorted(out.items()))


def coefficients(fed: dict, r: int) -> tuple[dict, dict]:
    """(fresh, stale): client -> integer coefficient e_{r,k}. Weights u_k = w_k 2^bs for
    k in P_r, w_k beta_num for stale k; e_k = round(2^s u_k / sum u) (half up)."""
    K, m, s = fed["clients"], fed["participants"], fed["shift"]
    w = fed["client_weights"]
    P = participants(fed["participation_seed"], r, K, m)
    S = stale_sources(fed, r)
    u = {k: w[k] << fed["beta_shift"] for k in P}
    us = {k: w[k] * fed["beta_num"] for k in S}
    U = sum(u.values()) + sum(us.values())

    def e(x):
        return ((x << (s + 1)) + U) // (2 * U)
    return {k: e(v) for k, v in u.items()}, {k: e(v) for k, v in us.items()}


def aggregation_inputs(fed: dict, r: int) -> list[tuple[tuple, int]]:
    """The aggregation proof's inputs of round r in order, as (source, coefficient):
    source ("global", q) is W_q, ("client", q, k) the final weights of client k's proof of
    round q. 2^s W_{r+1} + rem = sum coefficient * source."""
    s = fed["shift"]
    fresh, stale = coefficients(fed, r)
    S = stale_sources(fed, r)
    out = [(("global", r), (1 << s) - sum(fresh.values()))]
    out += [(("client", r, k), c) for k, c in fresh.items()]
    out += [(("client", S[k], k), c) for k, c in stale.items()]
    back: dict[int, int] = {}
    for k, c in stale.items():
        back[S[k]] = back.get(S[k], 0) - c
    out += [(("global", q), c) for q, c in sorted(back.items())]
    return out


def aggregation_params(fed: dict, r: int) -> dict:
    """The method parameters of round r's aggregation proof (the header's method_params)."""
    inputs = aggregation_inputs(fed, r)
    return FedAggMethod({"shift": fed["shift"], "inputs": len(inputs),
                         **{f"c{i}": c for i, (_, c) in enumerate(inputs)}}).params


class FedAggMethod(Method):
    """The server's aggregation step: 2^s FW_final + rem = sum_i c_i FI_i, per layer (everything
    at the window's step 0; an aggregation proof has T = 1, which the audit checks)."""

    name = AGG_METHOD
    params = {"shift": 12, "inputs": 1, "c0": 1 << 12}
    tracer_step = "zkdl.federated_trace:aggregate_step"
    initial_state = "zkdl.federated_trace:initial_state"
    effective_weights = "zkdl.federated_trace:effective_weights"
    state_of = {"FW_final": "fi0"}

    def __init__(self, params: dict | None = None):
        given = dict(params or {})
        n = given.get("inputs", 1)
        if type(n) is not int or not 1 <= n <= MAX_INPUTS:
            raise CircuitError(f"{AGG_METHOD}: inputs must be an int in 1..{MAX_INPUTS}, got {str(n)[:40]}")
        self.params = {"shift": 12, "inputs": n, **{f"c{i}": 0 for i in range(n)}}   # the declared keys
        self.params = method_params(self, given)
        self.state_of = {**type(self).state_of, **{f"FI{i}": f"fi{i}" for i in range(n)}}   # (this one's inputs)

    @property
    def statement(self) -> dict:
        n = self.params["inputs"]
        return {"dataset": [], "initial": [f"FI{i}" for i in range(n)], "final": ["FW_final"], "outputs": {}}

    def validate(self, config, steps: int) -> None:
        s = self.params["shift"]
        if not 1 <= s <= 24:
            raise CircuitError(f"{AGG_METHOD}: shift must be in 1..24, got {s}")
        if any(abs(self.params[f"c{i}"]) >= (1 << 40) for i in range(self.params["inputs"])):
            raise CircuitError(f"{AGG_METHOD}: coefficients must lie in (-2^40, 2^40)")

    def build(self, b: CircuitBuilder) -> None:
        from zkdl.circuits import gadgets as g
        from zkdl.circuits.sgd_mlp import mlp_layer_runs
        d, Q, s, n = b.dims, b.config.Q, self.params["shift"], self.params["inputs"]
        ALL = list(range(1, len(d)))
        wshape = (lambda l: (d[l - 1], d[l]))
        b.set_layer_runs(mlp_layer_runs(d))      # the stacks (so the commitment order) of sgd_mlp's W
        # the inputs' Q-bit range checks are optional (check_initial_weights): in a federated claim each
        # input is linked to a proof that bounds it (a client proof's final weights W_r - sum dW, a global
        # model range-checked by its aggregation and by the client proofs starting from it)
        for i in range(n):
            g.initial_weights(b, f"FI{i}", ALL, wshape, Q, check=b.options["check_initial_weights"], trace=f"fi{i}")
        g.initial_weights(b, "FW_final", ALL, wshape, Q, check=True, trace="fi_next0")
        g.range_value(b, "Frem", ALL, wshape, s, 1 << (s - 1), steps=[0], source=[[1, "Frem_{l}"]])
        b.relation("aggregate", "linear", [(0, l) for l in ALL],
                   [Op("out", "Frem")] + [Op("term", f"FI{i}", coef=self.params[f"c{i}"]) for i in range(n)]
                   + [Op("term", "FW_final", coef=-(1 << s))], {"check": True})


register_method(FedAggMethod)
