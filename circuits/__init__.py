"""zkdl.circuits (see docs/ARCHITECTURE.md)."""
