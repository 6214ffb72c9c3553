"""Fiat-Shamir transcript: determinism, domain separation, framing, input checks."""

import pytest

from zkdl.errors import TranscriptError
from zkdl.field import P
from zkdl.transcript import Transcript


def run(ops):
    t = Transcript(b"test")
    for kind, label, value in ops:
        getattr(t, kind)(label, value)
    return t.challenge_scalar(b"c")


def test_deterministic_and_in_range():
    ops = [("absorb_scalar", b"x", 5), ("absorb_bytes", b"y", b"abc")]
    c1, c2 = run(ops), run(ops)
    assert c1 == c2 and 0 <= c1 < P


def test_every_input_matters():
    base = [("absorb_scalar", b"x", 5), ("absorb_bytes", b"y", b"abc")]
    c = run(base)
    assert run([("absorb_scalar", b"x", 6), base[1]]) != c
    assert run([("absorb_scalar", b"z", 5), base[1]]) != c
    assert run([base[0], ("absorb_bytes", b"y", b"abd")]) != c
    assert run(list(reversed(base))) != c
    assert Transcript(b"other").challenge_scalar(b"c") != Transcript(b"test").challenge_scalar(b"c")


def test_framing_prevents_ambiguity():
    a = run([("absorb_bytes", b"a", b"bc")])
    b = run([("absorb_bytes", b"ab", b"c")])
    c = run([("absorb_bytes", b"a", b"b"), ("absorb_bytes", b"a", b"c")])
    assert len({a, b, c}) == 3
    assert run([("absorb_scalars", b"s", [1, 2])]) != run([("absorb_scalars", b"s", [1]),
                                                           ("absorb_scalars", b"s", [2])])


def test_successive_challenges_differ_and_vectors():
    t = Transcript(b"t")
    c1, c2 = t.challenge_scalar(b"c"), t.challenge_scalar(b"c")
    assert c1 != c2
    v = Transcript(b"t").challenge_scalars(b"v", 4)
    assert len(v) == 4 and len(set(v)) == 4
    assert Transcript(b"t").challenge_scalars(b"v", 0) == []


def test_points_absorb_48_bytes():
    t = Transcript(b"t")
    t.absorb_point(b"g", b"\x01" * 48)
    with pytest.raises(TranscriptError):
        t.absorb_point(b"g", b"\x01" * 47)


@pytest.mark.parametrize("bad", [P, -1, 1.5, True, "1"])
def test_rejects_non_canonical_scalars(bad):
    with pytest.raises(TranscriptError):
        Transcript(b"t").absorb_scalar(b"x", bad)


def test_rejects_bad_labels_and_counts():
    with pytest.raises(TranscriptError):
        Transcript(b"")
    with pytest.raises(TranscriptError):
        Transcript(b"t").absorb_bytes(b"", b"x")
    with pytest.raises(TranscriptError):
        Transcript(b"t").absorb_bytes(b"x", "not bytes")
    with pytest.raises(TranscriptError):
        Transcript(b"t").challenge_scalars(b"x", -1)
