"""Training methods shipped with zkdl besides the built-in SGD (docs/METHODS.md).

Each is a plugin like a third party's: a :class:`~zkdl.circuits.builder.Method` in a
pure-Python module (its circuit, importable by the verifier) declared in the
``zkdl.methods`` entry-point group of zkdl's own distribution, and a tracer step (numpy)
in a companion ``*_trace`` module that only the tracer imports.

* ``lora`` (:mod:`zkdl.methods.lora`): low-rank adapters on a frozen base (Hu et al. 2022).
* ``hut`` (:mod:`zkdl.methods.hut`): a Hadamard adapter W0 * (1 + B A) on a frozen base.
* ``sltrain`` (:mod:`zkdl.methods.sltrain`): sparse plus low-rank weights (Han et al. 2024).
* ``subset_momentum`` (:mod:`zkdl.methods.subset_momentum`): heavy-ball momentum on a
  public random subset of the top layers per step (the schedule of Drop-Muon).
"""
