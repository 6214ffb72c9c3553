"""zkdl.prover (see docs/ARCHITECTURE.md)."""
