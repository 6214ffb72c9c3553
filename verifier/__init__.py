"""zkdl.verifier (see docs/ARCHITECTURE.md)."""
