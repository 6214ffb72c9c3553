"""The column generators come from this process's own derivation, never from a file.

Issue 13 item 3: a generator file in the cache dir with G_1234 = G_0 + G_1 and a
recomputed (public-key) tag was accepted by fresh processes, which made every Hyrax
commitment non-binding. These tests plant such a file (in the old on-disk format) in
every directory the old code looked in and check, in a fresh interpreter, that the
verifier-side modules never open it and that generators() returns the true
hash-to-curve derivations.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import threading
from pathlib import Path

from py_arkworks_bls12381 import G1Point

from zkdl import curve

COUNT = 1536  # > 1235 so that G_1234 is neither the first nor the last point
FORGED = 1234
OLD_MAGIC = b"ZKDLGEN1"
OLD_FILENAME = "hyrax-generators-v1.bin"


def true_generator(j: int) -> G1Point:
    return G1Point.hash_to_curve(b"G" + struct.pack(">I", j), curve.DST)


def forged_file(points) -> bytes:
    """The old cache format: magic, u32le count, 96-byte x||y points, BLAKE2b keyed by DST."""
    body = OLD_MAGIC + struct.pack("<I", len(points)) + b"".join(p.to_xy_bytes_be() for p in points)
    return body + hashlib.blake2b(body, digest_size=32, key=curve.DST[:64]).digest()


CHILD = r"""
import json, os, sys
root = os.path.realpath(sys.argv[1])
opened = []

def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.fsdecode(args[0])
        if os.path.realpath(path).startswith(root):
            opened.append(path)

sys.addaudithook(hook)
import zkdl.verifier.verify, zkdl.hyrax, zkdl.audit, zkdl.anchors  # the verifier side
from zkdl import curve
gens = curve.generators(int(sys.argv[2]))
print(json.dumps({"opened": opened, "gens": [curve.encode_point(g).hex() for g in gens]}))
"""


def run_fresh(root: Path, count: int) -> dict:
    env = dict(os.environ)
    env.pop("ZKDL_GENERATOR_CACHE", None)
    env.update(ZKDL_CACHE_DIR=str(root / "zkdl-cache"), XDG_CACHE_HOME=str(root / "xdg"),
               HOME=str(root / "home"))
    out = subprocess.run([sys.executable, "-c", CHILD, str(root), str(count)], env=env,
                         capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_forged_generator_file_is_never_used(tmp_path):
    true = [true_generator(j) for j in range(COUNT)]
    forged = list(true)
    forged[FORGED] = true[0] + true[1]
    # the forgery is real: under it, e_1234 and e_0 + e_1 have the same commitment
    e_forged = [0] * COUNT
    e_forged[FORGED] = 1
    e_pair = [1, 1] + [0] * (COUNT - 2)
    assert curve.msm(forged, e_forged) == curve.msm(forged, e_pair)
    assert curve.msm(true, e_forged) != curve.msm(true, e_pair)

    data = forged_file(forged)
    for d in ("zkdl-cache", "xdg/zkdl", "home/.cache/zkdl"):
        (tmp_path / d).mkdir(parents=True)
        (tmp_path / d / OLD_FILENAME).write_bytes(data)
    before = files_under(tmp_path)

    res = run_fresh(tmp_path, COUNT)
    assert res["opened"] == []  # no file under the planted dirs was even opened
    assert res["gens"][FORGED] == curve.encode_point(true[FORGED]).hex()
    assert res["gens"][FORGED] != curve.encode_point(forged[FORGED]).hex()
    assert res["gens"] == [curve.encode_point(p).hex() for p in true]
    assert files_under(tmp_path) == before  # nothing written or replaced


def test_generators_write_no_file(tmp_path):
    res = run_fresh(tmp_path, 300)
    assert res["opened"] == []
    assert len(res["gens"]) == 300
    assert files_under(tmp_path) == {}
    assert curve.generators(300) == [true_generator(j) for j in range(300)]


def test_memory_cache_grows_consistently_across_threads():
    cache = curve._GeneratorCache()
    sizes = [5, 40, 0, 17, 64, 40]
    results: dict[int, list] = {}

    def work(i, m):
        results[i] = cache.get(m)

    threads = [threading.Thread(target=work, args=(i, m)) for i, m in enumerate(sizes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    truth = [true_generator(j) for j in range(64)]
    for i, m in enumerate(sizes):
        assert results[i] == truth[:m]
    assert cache.get(64) == truth
