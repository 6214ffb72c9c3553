// Multi-scalar multiplications for Hyrax row commitments (bucket method).
//
// Each commitment row i is C_i = sum_j u_ij G_j over a fixed generator set G_0..G_{c-1}
// with small non-negative scalars u_ij < 2^bits (bits <= 32; offset-binary witness
// values, typically 16 bits). Scalars are cut into W = ceil(bits / 8) windows of 8 bits:
//
//   C_i = sum_w 2^(8w) sum_{b=1}^{255} b S_{i,w,b},   S_{i,w,b} = sum_{j : digit_w(u_ij) = b} G_j.
//
// msm_bucket_sums: block (row, window, slice), thread b = bucket; the columns are cut
//   into `slices` equal ranges (more blocks, shorter serial chains: skewed digit
//   distributions, e.g. all weights near the offset, otherwise leave one thread doing
//   a whole row). Each thread scans its slice and adds (mixed Jacobian + affine) the
//   generators whose digit is b. Output: buckets[row][w][slice][b] (Jacobian).
// msm_reduce: block per row, thread b: sums bucket b over the slices, multiplies by
//   b 2^(8w) (double-and-add), adds over windows, then a shared-memory tree of
//   Jacobian additions gives C_i. Output: out[row] (Jacobian, 36 words).
//
// Generators are affine in Montgomery form, 24 words each ((cols, 24) array);
// scalars a row-major (rows, cols) uint32 array. Both kernels need blockDim.x = 256.
#include "g1.cuh"

#define MSM_WBITS 8
#define MSM_BUCKETS 256
#define JAC_WORDS 36
#define AFF_WORDS 24

extern "C" __global__ void msm_bucket_sums(const u32* gens, const u32* scalars, u64 cols, int windows,
                                           int slices, u32* buckets) {
    u64 row = blockIdx.x;
    int win = blockIdx.y / slices, sl = blockIdx.y % slices;
    u32 b = threadIdx.x;
    u64 per = (cols + slices - 1) / slices;
    u64 c0 = (u64)sl * per;
    u64 c1 = c0 + per < cols ? c0 + per : cols;
    const u32* srow = scalars + row * cols;
    int shift = MSM_WBITS * win;
    g1_jac acc = g1_infinity();
    if (b != 0)
        for (u64 j = c0; j < c1; j++) {
            u32 d = (srow[j] >> shift) & (MSM_BUCKETS - 1);
            if (d == b) acc = g1_madd(acc, g1_load_aff(gens + AFF_WORDS * j));
        }
    u64 slot = ((row * windows + win) * slices + sl) * MSM_BUCKETS + b;
    g1_store_jac(buckets + JAC_WORDS * slot, acc);
}

extern "C" __global__ void msm_reduce(const u32* buckets, int windows, int slices, u32* out) {
    __shared__ u32 sh[JAC_WORDS * MSM_BUCKETS];
    u64 row = blockIdx.x;
    u32 b = threadIdx.x;
    g1_jac acc = g1_infinity();
    for (int win = 0; win < windows; win++) {
        g1_jac s = g1_infinity();
        for (int sl = 0; sl < slices; sl++) {
            u64 slot = ((row * windows + win) * slices + sl) * MSM_BUCKETS + b;
            s = g1_add(s, g1_load_jac(buckets + JAC_WORDS * slot));
        }
        u32 k = b << (MSM_WBITS * win);  // b 2^(8w) < 2^32 for windows <= 4
        acc = g1_add(acc, g1_mul_words(s, &k, MSM_WBITS * (win + 1)));
    }
    g1_store_jac(sh + JAC_WORDS * b, acc);
    __syncthreads();
    for (unsigned s = MSM_BUCKETS / 2; s > 0; s >>= 1) {
        if (b < s) {
            g1_jac x = g1_add(g1_load_jac(sh + JAC_WORDS * b), g1_load_jac(sh + JAC_WORDS * (b + s)));
            g1_store_jac(sh + JAC_WORDS * b, x);
        }
        __syncthreads();
    }
    if (b == 0)
        for (int i = 0; i < JAC_WORDS; i++) out[row * JAC_WORDS + i] = sh[i];
}
