"""The statement blinds of window boundaries derived from one secret run seed
(zkdl.blinds, docs/FORMAT.md 4.1): windows proven in any order chain byte for byte and
state what a sequential prove states. No Ray needed here (tests/test_distributed.py)."""

from __future__ import annotations

import os
import stat
import sys

import pytest

import zkdl
from zkdl import blinds
from zkdl import data as D
from zkdl.config import TrainConfig
from zkdl.distributed import WindowJob
from zkdl.field import P
from zkdl.prooffile import unpack
from zkdl.verifier.verify import verify

SEED = bytes(range(32))   # tests use explicit seeds; zkdl draws them with secrets.token_bytes


@pytest.fixture(scope="module")
def run():
    cfg = TrainConfig(width=(6, 5), batch_size=3, lr_shift=9)
    return zkdl.train(cfg, D.synthetic(n_samples=50, n_features=3, n_classes=3), steps=3, keep_in_memory=True)


def verify_chain(datas):
    """Verify proofs as a chain: each must start from the previous final weights."""
    prev = None
    for d in datas:
        st = verify(d, expect_initial=prev)
        prev = st.final_weights_digest
    return prev


def statement(proof):
    h = unpack(proof.data)[0]
    return {k: h[k] for k in ("config", "circuit_digest", "statement", "zk", "range", "method")}


def test_derivation_is_a_function_of_seed_boundary_index_and_rows():
    a = blinds.derive(SEED, "final", 2, 3, 0, 8)          # W[5]
    assert a == blinds.derive(SEED, "initial", 5, 1, 0, 8)  # the next window's initial W[5]
    assert len(a) == 8 and all(0 <= b < P for b in a) and len(set(a)) == 8
    others = [blinds.derive(SEED, "initial", 4, 1, 0, 8), blinds.derive(SEED, "final", 2, 3, 1, 8),
              blinds.derive(SEED, "dataset", 0, 1, 0, 8), blinds.derive(SEED, "frozen", 0, 1, 0, 8),
              blinds.derive(bytes(32), "final", 2, 3, 0, 8)]
    assert all(not set(a) & set(o) for o in others)
    assert blinds.derive(SEED, "dataset", 0, 1, 0, 4) == blinds.derive(SEED, "dataset", 7, 2, 0, 4)
    with pytest.raises(ValueError):
        blinds.derive(b"short", "final", 0, 1, 0, 4)
    assert len(blinds.new_seed()) == 32 and blinds.new_seed() != blinds.new_seed()


def test_seed_file_is_private_and_reused(tmp_path):
    s1 = blinds.load_or_create(str(tmp_path))
    path = blinds.seed_path(str(tmp_path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert blinds.load_or_create(str(tmp_path)) == s1 and len(s1) == 32
    with open(path, "w") as fh:
        fh.write("zz")
    with pytest.raises(ValueError, match="not a run seed"):
        blinds.read_seed(path)


def test_windows_proven_out_of_order_chain_and_match_a_sequential_prove(run):
    seq = zkdl.prove(run, steps=(0, 3), executor="sequential", window=1, run_seed=SEED)
    assert [p.steps for p in seq] == [(0, 1), (1, 1), (2, 1)]
    # the same windows, last first, none waiting for another's proof (the plan of a Ray prove)
    jobs = [WindowJob.plan(t, t + 1, starts_chain=(t == 0)) for t in (2, 1, 0)]
    alone = {j.t0: zkdl.prove(run, steps=(j.t0, 1), run_seed=SEED, inherit=j.inherit, **j.opts) for j in jobs}
    for p in seq:
        q = alone[p.steps[0]]
        assert statement(q) == statement(p)
        assert q.data != p.data                   # fresh randomness inside the window
        assert q.secrets == p.secrets             # the statement blinds are the derived ones
    verify_chain([alone[t].data for t in range(3)])
    assert alone[0].secrets["final"] == alone[1].secrets["initial"] != alone[1].secrets["final"]
    # another seed: the same window no longer chains onto them
    other = zkdl.prove(run, steps=(1, 1), run_seed=bytes(32), check_initial_weights=False, check_dataset=False)
    st0, st1 = verify(alone[0].data), verify(other.data)
    assert st0.final_weights_digest != st1.initial_weights_digest


def test_anchors_keep_zero_blinds_with_a_seed(run):
    proofs = zkdl.prove(run, steps=(0, 2), executor="sequential", window=1, run_seed=SEED,
                        public_data=True, public_init=True)
    first, second = proofs
    assert all(b == 0 for bl in first.secrets["dataset"] + first.secrets["initial"] for b in bl)
    assert any(b for bl in first.secrets["final"] for b in bl)
    assert second.secrets["dataset"] == first.secrets["dataset"]
    st = unpack(first.data)[0]["statement"]
    assert st["dataset_public"] and st["initial_weights_public"]
    job = WindowJob.plan(1, 2, anchors={"public_data": True, "public_init": True})
    q = zkdl.prove(run, steps=(1, 1), run_seed=SEED, inherit=job.inherit, **job.opts)
    assert statement(q) == statement(second)


def test_zkdl_prove_chains_and_gives_each_boundary_its_own_blinds(run):
    p0 = zkdl.prove(run, steps=(0, 1))
    p1 = zkdl.prove(run, steps=(1, 1), chain=p0)
    assert p1.secrets["initial"] == p0.secrets["final"]
    assert p1.secrets["final"] != p0.secrets["final"]   # no blinds list shared by W[1] and W[2]
    verify_chain([p0.data, p1.data])


def test_ray_option_without_ray_says_how_to_install(tmp_path, monkeypatch):
    from test_cli import SMALL, invoke, output
    out = tmp_path / "r"
    assert invoke("train", "--out", out, "--steps", 1, "--no-prove", *SMALL).exit_code == 0
    monkeypatch.setitem(sys.modules, "ray", None)   # as if Ray were not installed
    for args in (("prove", out, "--ray"), ("prove", out, "--ray", "auto"), ("audit", out, "--ray")):
        res = invoke(*args)
        assert res.exit_code == 2, output(res)
        assert "pip install 'zkdl[distributed]'" in output(res) and "Traceback" not in output(res)
    assert not os.path.exists(out / "proofs")
    with pytest.raises(zkdl.ZkdlError, match=r"zkdl\[distributed\]"):
        zkdl.prove(zkdl.Run.load(out / "run"), steps=(0, 1), executor="ray")


def test_derived_blinds_line_up_for_every_method():
    """The derived blinds of a boundary are keyed by a commitment's position in its role's
    list (zkdl.blinds): every window of a run must list the same (state, layer)s, and the
    k-th initial commitment must be the k-th final one's state, for every registered
    method (window-dependent ones at several t0), or windows proven apart would not chain."""
    from zkdl.circuits.builder import METHODS, build_circuit, discover_methods
    from zkdl.config import TrainConfig
    from zkdl.verifier.verify import statement_layout
    discover_methods()
    cfg = TrainConfig(width=(6, 5, 4), batch_size=4, n_features=3, n_classes=3)
    checked = 0
    for name, cls in sorted(METHODS.items()):
        layouts = []
        for t0 in ([0, 1, 2, 3, 5] if getattr(cls, "window_dependent", False) else [None]):
            try:
                c = build_circuit(cfg, 1, n_samples=40, method=name, t0=t0)
            except Exception:     # noqa: BLE001 - a method that needs parameters of its own (not a training chain)
                continue
            lay = statement_layout(c)
            state_of = cls().state_of
            state = [(state_of.get(b, b), layer) for b, layer, _ in lay["initial"]]
            final = [(state_of.get(b, b), layer) for b, layer, _ in lay["final"]]
            if final:
                assert final == state[:len(final)], name
            layouts.append((state, final))
        assert all(x == layouts[0] for x in layouts), name
        checked += bool(layouts)
    assert checked >= 8
