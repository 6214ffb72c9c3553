"""The circuit drives the proof (issue 14): every message of a proof comes from the IR.

A proof's committed stacks are exactly the circuit's committed tensors (witness stacks
committed by the proof, statement stacks from the header's commitments), its header
sizes are the circuit's, and its transcript runs every relation family of the circuit
under the family's own name: what is proven is exactly the IR whose digest it carries."""

import random

import pytest

import zkdl
from zkdl import data as D
from zkdl.config import TrainConfig
from zkdl.prooffile import unpack
from zkdl.prover.aggregate import prove_window
from zkdl.transcript import Transcript
from zkdl.verifier.compile import derived_order, statement_tensors, witness_tensors
from zkdl.verifier.verify import VerifierContext, circuit_for, committed_values, verify

CONFIGS = [
    dict(width=32, batch_size=32, n_features=16, n_classes=4),           # the default job's shapes
    dict(width=(6, 5), batch_size=3, n_features=3, n_classes=3),
    dict(width=8, layers=3, batch_size=5, n_features=7, n_classes=2),
]


@pytest.mark.parametrize("kw", CONFIGS)
@pytest.mark.parametrize("T,first", [(1, True), (3, False)])
def test_circuit_schedules(kw, T, first):
    cfg = TrainConfig(lr_shift=9, **kw)
    c = circuit_for(cfg, T, 40, first, first, prove_loss=first)
    stmt = {t.base for t in statement_tensors(c)}
    assert stmt == {"W0", "W_final", "Xdata", "Ydata"}
    wit = witness_tensors(c)
    assert all(t.base.endswith(".bits") or t.base == "S" for t in wit)
    assert ("W0.bits" in {t.base for t in wit}) is first and ("Xdata.bits" in {t.base for t in wit}) is first
    order = derived_order(c)
    assert sorted(order) == sorted(t.name for t in c.tensors if t.kind.startswith("derived"))
    # a tensor comes before every tensor its definition reads
    pos = {n: i for i, n in enumerate(order)}
    for n in order:
        r = c.relation(c.tensor(n).defined_by[0])
        for o in r.operands:
            if o.tensor in pos and o.tensor != n:
                assert pos[o.tensor] > pos[n], (n, o.tensor)


def moves_claims(c, r):
    """out = term, read instance by instance in the same layout: a claim on out is a claim
    on term (no message, so no label of its own)."""
    from zkdl.verifier.compile import _is_identity
    terms = r.operands_with("term")
    if r.kind not in ("linear", "chain") or len(terms) != 1:
        return False
    out = c.tensor(r.operand("out").tensor)
    return _is_identity(r, terms[0], c.tensor(terms[0].tensor), out) and out.kind != "committed"


def _labels_of_verification(proof, monkeypatch):
    seen = []
    absorb, challenge = Transcript.absorb_bytes, Transcript.challenge_scalars

    def rec_absorb(self, label, data):
        seen.append(bytes(label))
        if bytes(label).startswith(b"reduce/"):
            seen.append(bytes(data))
        return absorb(self, label, data)

    def rec_challenge(self, label, n):
        seen.append(bytes(label))
        return challenge(self, label, n)
    monkeypatch.setattr(Transcript, "absorb_bytes", rec_absorb)
    monkeypatch.setattr(Transcript, "challenge_scalars", rec_challenge)
    opened, real_open = [], VerifierContext.open

    def rec_open(self, name, point, value):
        opened.append(name)
        return real_open(self, name, point, value)
    monkeypatch.setattr(VerifierContext, "open", rec_open)
    verify(proof)
    return [s.decode("ascii", "replace") for s in seen], opened


def covered_by_lookup(c, r, text):
    """A logup range relation is proven by the lookup of each of its limbs' widths."""
    from zkdl.circuits.lookup import lookup_blocks
    if r.kind != "range" or r.params["strategy"] != "logup":
        return False
    return all(f"lookup:T{w}[0]" in text for w in lookup_blocks([r]))


@pytest.mark.parametrize("first,strategy", [(True, "bits"), (False, "bits"), (True, "logup")],
                         ids=["first", "chained", "first-logup"])
def test_proof_runs_every_relation_of_its_circuit(first, strategy, monkeypatch):
    cfg = TrainConfig(width=(6, 5), batch_size=3, lr_shift=9)
    run = zkdl.train(cfg, D.synthetic(n_samples=50, n_features=3, n_classes=3), steps=2, keep_in_memory=True)
    proof, _ = prove_window(run, 0, 2, rng=random.Random(7), check_initial_weights=first, check_dataset=first,
                            prove_loss=True, range_strategy=strategy)
    header = unpack(proof)[0]
    c = circuit_for(run.config, 2, 50, first, first, prove_loss=True, range_strategy=strategy)
    assert header["circuit_digest"] == c.digest() and header["method"] == c.method
    assert header["sizes"]["committed_values"] == committed_values(c)
    labels, opened = _labels_of_verification(proof, monkeypatch)
    commits = [s[len("commit/"):] for s in labels if s.startswith("commit/")]
    assert commits == [t.name for t in witness_tensors(c)]
    text = "\n".join(labels)
    missing = [r.name for r in c.relations if r.name not in text and not moves_claims(c, r)
               and not covered_by_lookup(c, r, text)]
    assert not missing, missing
    assert any(moves_claims(c, r) for r in c.relations)
    assert opened == [t.name for t in witness_tensors(c) + statement_tensors(c)]
