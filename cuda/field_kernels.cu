// Fr vector kernels for zkdl's cuda prover backend (loaded by prover/cuda_backend.py
// with cupy.RawModule; the host tests run them on the CPU through a small CUDA
// emulation shim, tests/cuda_host_shim.h).
//
// Layout: an Fr vector of n elements is a uint32 array (8, n), limb k of element e
// at a[k * n + e], Montgomery form (zkdl.field.vector.FrVec's layout). A stack of k
// tables of n entries is (k, 8, n). Scalars (a challenge, a scale factor) are passed
// as a pointer to 8 Montgomery limbs. Lengths are u64; table lengths are powers of
// two where a kernel halves them.
//
// Kernels that reduce (round sums, product sums, vector-matrix products) produce one
// partial result per block or row chunk; fr_reduce_rows / fr_sum_chunks finish them.
// Reductions need blockDim.x a power of two <= FR_MAX_BLOCK.
#include "fr.cuh"

#define FR_MAX_BLOCK 256
#define FR_MAXK 10  // tables per sumcheck (degree <= 9 with the eq table)

#define GRID_STRIDE(i, n) \
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (u64)blockDim.x * gridDim.x)

ZK_HD fr_t fr_scalar(const u32* s) {
    fr_t r;
#pragma unroll
    for (int k = 0; k < 8; k++) r.v[k] = s[k];
    return r;
}

// Sum of one element per thread over the block (tree in shared memory); every
// thread gets the result. sh holds 8 * blockDim.x words.
__device__ fr_t fr_block_sum(fr_t x, u32* sh) {
    unsigned t = threadIdx.x, B = blockDim.x;
    fr_store(sh, B, t, x);
    __syncthreads();
    for (unsigned s = B / 2; s > 0; s >>= 1) {
        if (t < s) fr_store(sh, B, t, fr_add(fr_load(sh, B, t), fr_load(sh, B, t + s)));
        __syncthreads();
    }
    fr_t r = fr_load(sh, B, 0);
    __syncthreads();  // the caller may reuse sh
    return r;
}

// ------------------------------------------------------------- element-wise
extern "C" __global__ void fr_vec_add(const u32* a, const u32* b, u32* out, u64 n) {
    GRID_STRIDE(e, n) fr_store(out, n, e, fr_add(fr_load(a, n, e), fr_load(b, n, e)));
}

extern "C" __global__ void fr_vec_sub(const u32* a, const u32* b, u32* out, u64 n) {
    GRID_STRIDE(e, n) fr_store(out, n, e, fr_sub(fr_load(a, n, e), fr_load(b, n, e)));
}

extern "C" __global__ void fr_vec_mul(const u32* a, const u32* b, u32* out, u64 n) {
    GRID_STRIDE(e, n) fr_store(out, n, e, fr_mul(fr_load(a, n, e), fr_load(b, n, e)));
}

extern "C" __global__ void fr_vec_scale(const u32* a, const u32* s, u32* out, u64 n) {
    fr_t sv = fr_scalar(s);
    GRID_STRIDE(e, n) fr_store(out, n, e, fr_mul(fr_load(a, n, e), sv));
}

extern "C" __global__ void fr_vec_add_scalar(const u32* a, const u32* s, u32* out, u64 n) {
    fr_t sv = fr_scalar(s);
    GRID_STRIDE(e, n) fr_store(out, n, e, fr_add(fr_load(a, n, e), sv));
}

// out[e] = v[e] mod p in Montgomery form, for signed int64 v with |v| < 2^63
extern "C" __global__ void fr_vec_from_i64(const i64* v, u32* out, u64 n) {
    GRID_STRIDE(e, n) fr_store(out, n, e, fr_from_i64(v[e]));
}

// ------------------------------------------------------------- multilinear tables
// One eq-table step (new variable = least significant index bit):
// out[2i] = t[i] (1 - r), out[2i + 1] = t[i] r, for i < h (t has h entries, out 2h).
extern "C" __global__ void fr_eq_expand(const u32* t, const u32* r, u32* out, u64 h) {
    fr_t rv = fr_scalar(r);
    GRID_STRIDE(i, h) {
        fr_t x = fr_load(t, h, i);
        fr_t y = fr_mul(x, rv);
        fr_store(out, 2 * h, 2 * i, fr_sub(x, y));
        fr_store(out, 2 * h, 2 * i + 1, y);
    }
}

// Fix the leading variable (most significant index bit) of each of k tables of n
// entries to s: out[j][i] = lo + s (hi - lo), lo = tabs[j][i], hi = tabs[j][i + n/2].
extern "C" __global__ void fr_fold_stack(const u32* tabs, const u32* s, u32* out, int k, u64 n) {
    fr_t sv = fr_scalar(s);
    u64 h = n / 2;
    GRID_STRIDE(idx, (u64)k * h) {
        u64 j = idx / h, i = idx - j * h;
        const u32* t = tabs + j * 8 * n;
        fr_t lo = fr_load(t, n, i);
        fr_t hi = fr_load(t, n, i + h);
        fr_store(out + j * 8 * h, h, i, fr_add(lo, fr_mul(fr_sub(hi, lo), sv)));
    }
}

// Sumcheck round sums for a product of k tables (stack (k, 8, n)):
// g(t) = sum_{i < n/2} prod_j (lo_j[i] + t (hi_j[i] - lo_j[i])) for t = 0, 2, ..., deg,
// evaluated by repeated addition of the differences. Block b writes its partial
// sums to partial[t][b] (shape (deg + 1, 8, gridDim.x)); row t = 1 is left zero (the
// prover derives g(1) = claim - g(0)). Needs k <= deg < FR_MAXK.
extern "C" __global__ void fr_round_sums(const u32* tabs, int k, u64 n, int deg, u32* partial) {
    __shared__ u32 sh[8 * FR_MAX_BLOCK];
    u64 h = n / 2;
    fr_t acc[FR_MAXK];
    for (int t = 0; t <= deg; t++) acc[t] = fr_zero();
    GRID_STRIDE(i, h) {
        fr_t cur[FR_MAXK], dif[FR_MAXK];
        for (int j = 0; j < k; j++) {
            const u32* tab = tabs + (u64)j * 8 * n;
            cur[j] = fr_load(tab, n, i);
            dif[j] = fr_sub(fr_load(tab, n, i + h), cur[j]);
        }
        for (int t = 0; t <= deg; t++) {
            if (t > 0)
                for (int j = 0; j < k; j++) cur[j] = fr_add(cur[j], dif[j]);
            if (t == 1) continue;
            fr_t prod = cur[0];
            for (int j = 1; j < k; j++) prod = fr_mul(prod, cur[j]);
            acc[t] = fr_add(acc[t], prod);
        }
    }
    u64 G = gridDim.x;
    for (int t = 0; t <= deg; t++) {
        fr_t s = fr_block_sum(acc[t], sh);
        if (threadIdx.x == 0) fr_store(partial + (u64)t * 8 * G, G, blockIdx.x, s);
    }
}

// Partial sums of prod_j tabs[j][e] over e < n (the claim of a sumcheck):
// partial has shape (8, gridDim.x).
extern "C" __global__ void fr_product_sums(const u32* tabs, int k, u64 n, u32* partial) {
    __shared__ u32 sh[8 * FR_MAX_BLOCK];
    fr_t acc = fr_zero();
    GRID_STRIDE(e, n) {
        fr_t prod = fr_load(tabs, n, e);
        for (int j = 1; j < k; j++) prod = fr_mul(prod, fr_load(tabs + (u64)j * 8 * n, n, e));
        acc = fr_add(acc, prod);
    }
    fr_t s = fr_block_sum(acc, sh);
    if (threadIdx.x == 0) fr_store(partial, gridDim.x, blockIdx.x, s);
}

// Block b sums row b of an array of `rows` vectors of m elements ((rows, 8, m)) into
// out[b] (out has shape (8, rows)). Launch with gridDim.x = rows.
extern "C" __global__ void fr_reduce_rows(const u32* partial, u64 m, u32* out) {
    __shared__ u32 sh[8 * FR_MAX_BLOCK];
    const u32* row = partial + (u64)blockIdx.x * 8 * m;
    fr_t acc = fr_zero();
    for (u64 i = threadIdx.x; i < m; i += blockDim.x) acc = fr_add(acc, fr_load(row, m, i));
    fr_t s = fr_block_sum(acc, sh);
    if (threadIdx.x == 0) fr_store(out, gridDim.x, blockIdx.x, s);
}

// ------------------------------------------------------------- vector x small-int matrix
// partial[c][j] = sum_{i in chunk c} v[i] m[i][j] for a field vector v (rows entries)
// and a row-major int64 matrix m (rows x cols, |m| < 2^31); chunk c is rows
// [c rchunk, (c + 1) rchunk), c = blockIdx.y, rchunk <= 2^16; one thread per column.
//
// Entries are shifted to u = m + 2^31 in [0, 2^32) and split into 16-bit digits; limb
// products (< 2^48) are summed lazily in uint64 (exact for 2^16 rows), reduced once by
// fr_from_lazy_sums, and the shift is removed by subtracting 2^31 sum_i v[i].
// partial has shape (8, gridDim.y * cols); fr_sum_chunks adds the chunks.
extern "C" __global__ void fr_vecmat_small(const u32* v, const i64* m, u64 rows, u64 cols, u64 rchunk,
                                           u32* partial) {
    u64 j = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= cols) return;  // no __syncthreads in this kernel
    u64 r0 = (u64)blockIdx.y * rchunk;
    u64 r1 = r0 + rchunk < rows ? r0 + rchunk : rows;
    u64 lo[8], hi[8];
#pragma unroll
    for (int k = 0; k < 8; k++) lo[k] = hi[k] = 0;
    fr_t vsum = fr_zero();
    for (u64 i = r0; i < r1; i++) {
        fr_t x = fr_load(v, rows, i);
        vsum = fr_add(vsum, x);
        u64 u = (u64)(m[i * cols + j] + 0x80000000ll);
        u64 d0 = u & 0xffffull, d1 = u >> 16;
#pragma unroll
        for (int k = 0; k < 8; k++) {
            lo[k] += (u64)x.v[k] * d0;
            hi[k] += (u64)x.v[k] * d1;
        }
    }
    fr_t res = fr_sub(fr_from_lazy_sums(lo, hi), fr_mul(fr_from_i64(0x80000000ll), vsum));
    fr_store(partial, (u64)gridDim.y * cols, (u64)blockIdx.y * cols + j, res);
}

// out[j] = sum_c partial[c * cols + j] (partial: (8, nchunks * cols), out: (8, cols))
extern "C" __global__ void fr_sum_chunks(const u32* partial, u64 nchunks, u64 cols, u32* out) {
    GRID_STRIDE(j, cols) {
        fr_t acc = fr_zero();
        for (u64 c = 0; c < nchunks; c++) acc = fr_add(acc, fr_load(partial, nchunks * cols, c * cols + j));
        fr_store(out, cols, j, acc);
    }
}
