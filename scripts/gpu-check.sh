#!/usr/bin/env bash
# scripts/gpu-check.sh -- the cuda backend on a GPU machine, in one run (< 8 minutes).
#
# Builds (NVRTC via CuPy) the kernels of cuda/, runs the `gpu`-marked parity tests
# (tests/test_cuda_gpu.py: cuda vs cpu field ops, folds, sumcheck proofs, row
# commitments, byte-identical proofs), then prints the benchmark tables of
# benchmarks/cuda.py. Output goes to the terminal and, when $OUT is set, to
# $OUT/gpu-check.log. Exit status: that of the tests (the benchmark is best effort).
#
# Target machine: Python 3.12 with CuPy (cupy-cuda13x), numba and click preinstalled,
# no package registry. The remaining packages travel as wheels in .whl/ (ignored by
# git; pass it along, e.g. carry ".whl"), downloaded on a machine with a registry:
#
#   python3 -m pip download --only-binary=:all: --python-version 3.12 --implementation cp \
#       --abi cp312 --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
#       --platform manylinux_2_28_x86_64 -d .whl py-arkworks-bls12381 pytest
#
# (py-arkworks-bls12381: curve arithmetic; pytest with iniconfig, packaging, pluggy,
# pygments: the test run.) They are installed with
#   python3 -m pip install -q --no-index --no-deps --target /tmp/zkdl-gpu-site .whl/*.whl
# (or unpacked with zipfile when pip is missing) and put on PYTHONPATH together with a
# symlinked view of the repo as the `zkdl` package (zkdl.prover = prover/, ...), so
# nothing is built or installed into the machine's Python.
#
# Options (environment): GPU_CHECK_BUDGET seconds in all (default 470),
# GPU_CHECK_STEPS prover-table T values (default "1,16"), GPU_CHECK_BENCH_ARGS more
# arguments for benchmarks/cuda.py (e.g. "--quick"), PY (default python3).
set -u -o pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT"
    exec > >(tee "$OUT/gpu-check.log") 2>&1
fi
PY="${PY:-python3}"
BUDGET="${GPU_CHECK_BUDGET:-470}"
STEPS="${GPU_CHECK_STEPS:-1,16}"
START=$(date +%s)
left() { echo $(( BUDGET - ($(date +%s) - START) )); }
stage() { echo; echo "=== $* (t=$(( $(date +%s) - START )) s)"; }

stage "environment"
nvidia-smi -L 2>&1 || echo "nvidia-smi not available"
"$PY" --version
"$PY" -c "import cupy, numpy, numba; print('cupy', cupy.__version__, '| numpy', numpy.__version__, '| numba', numba.__version__)" \
    || { echo "FAIL: CuPy/numpy/numba not importable with $PY"; exit 2; }

stage "packages"
SITE=/tmp/zkdl-gpu-site
rm -rf "$SITE" && mkdir -p "$SITE"
if ls .whl/*.whl >/dev/null 2>&1; then
    if ! "$PY" -m pip install -q --no-index --no-deps --target "$SITE" .whl/*.whl; then
        echo "pip install failed; unpacking the wheels instead"
        "$PY" -c "import sys, zipfile; [zipfile.ZipFile(w).extractall(sys.argv[1]) for w in sys.argv[2:]]" "$SITE" .whl/*.whl
    fi
    ls .whl
else
    echo "no .whl/ directory: relying on preinstalled packages (see the header for the download command)"
fi
# the zkdl package as setuptools' package-dir maps it, without installing
mkdir -p "$SITE/zkdl"
for entry in "$ROOT"/zkdl/*; do ln -sfn "$entry" "$SITE/zkdl/"; done
ln -sfn "$ROOT/prover" "$SITE/zkdl/prover"
ln -sfn "$ROOT/circuits" "$SITE/zkdl/circuits"
ln -sfn "$ROOT/verifier" "$SITE/zkdl/verifier"
export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
export ZKDL_REQUIRE_GPU=1  # tests/test_cuda_gpu.py fails instead of skipping without a GPU
export PYTHONUNBUFFERED=1  # partial output survives a timeout
"$PY" -c "import py_arkworks_bls12381, pytest, zkdl.prover.cuda_backend as c; print('zkdl from', c.__file__, '| kernels in', c.kernel_dir())" \
    || { echo "FAIL: py-arkworks-bls12381 / pytest / zkdl not importable (wheels in .whl/?)"; exit 2; }

stage "kernel build (NVRTC)"
timeout 150 "$PY" - <<'PYEOF'
import time
t = time.perf_counter()
from zkdl.prover.backend import get_backend
be = get_backend("cuda")
for name in ("fr_vec_mul", "fr_round_sums", "fr_fold_stack", "fr_vecmat_small", "fr_eq_expand"):
    be._kern(name)
for name in ("msm_bucket_sums", "msm_reduce"):
    be._msm_mod.get_function(name)
print(f"kernels compiled and loaded in {time.perf_counter() - t:.1f} s")
print("smoke:", be.to_ints(be.add([1, 2, 3], [4, 5, -6])), "(expect [5, 7, P-3])")
PYEOF
BUILD=$?
[ $BUILD -eq 0 ] || echo "FAIL: kernel build exited $BUILD"

stage "gpu tests"
T_TESTS=$(( $(left) - 150 )); [ $T_TESTS -gt 300 ] && T_TESTS=300
[ $T_TESTS -lt 60 ] && T_TESTS=60
timeout -s INT -k 15 "$T_TESTS" "$PY" -m pytest -q -m gpu tests/test_cuda_gpu.py -p no:cacheprovider --durations=5 -rs
TESTS=$?
[ $TESTS -eq 124 ] && echo "FAIL: gpu tests ran out of time ($T_TESTS s)"

stage "benchmark"
T_BENCH=$(( $(left) - 10 ))
if [ $T_BENCH -gt 30 ]; then
    # shellcheck disable=SC2086  # GPU_CHECK_BENCH_ARGS is a word list
    timeout -s INT -k 10 "$T_BENCH" "$PY" benchmarks/cuda.py --steps "$STEPS" \
        --child-timeout $(( T_BENCH - 60 > 60 ? T_BENCH - 60 : 60 )) ${GPU_CHECK_BENCH_ARGS:-}
    echo "benchmark exit status $?"
else
    echo "no time left for the benchmark"
fi

stage "done: kernel build $BUILD, gpu tests $TESTS"
[ $BUILD -eq 0 ] && exit $TESTS
exit 3
