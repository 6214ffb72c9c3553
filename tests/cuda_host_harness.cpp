// C entry points over cuda/*.cuh and cuda/*.cu for the host tests (ctypes).
// Built by tests/test_cuda_host.py with: g++ -include cuda_host_shim.h -I cuda.
// Scalar routines take little-endian u32 limb arrays: Fr 8 words, Fp 12, affine G1
// 24 (x, y), Jacobian G1 36 (x, y, z), all Montgomery form unless named otherwise.
#include "field_kernels.cu"
#include "msm.cu"

extern "C" {

// ---------------------------------------------------------------- Fr scalars
static fr_t ld_fr(const u32* a) {
    fr_t r;
    for (int i = 0; i < 8; i++) r.v[i] = a[i];
    return r;
}
static void st_fr(u32* r, const fr_t& x) {
    for (int i = 0; i < 8; i++) r[i] = x.v[i];
}
void h_fr_add(const u32* a, const u32* b, u32* r) { st_fr(r, fr_add(ld_fr(a), ld_fr(b))); }
void h_fr_sub(const u32* a, const u32* b, u32* r) { st_fr(r, fr_sub(ld_fr(a), ld_fr(b))); }
void h_fr_mul(const u32* a, const u32* b, u32* r) { st_fr(r, fr_mul(ld_fr(a), ld_fr(b))); }
void h_fr_to_mont(const u32* a, u32* r) { st_fr(r, fr_to_mont(ld_fr(a))); }
void h_fr_from_mont(const u32* a, u32* r) { st_fr(r, fr_from_mont(ld_fr(a))); }
void h_fr_from_i64(i64 x, u32* r) { st_fr(r, fr_from_i64(x)); }
void h_fr_from_lazy_sums(const u64* lo, const u64* hi, u32* r) { st_fr(r, fr_from_lazy_sums(lo, hi)); }

// ---------------------------------------------------------------- Fp scalars
static fp_t ld_fp(const u32* a) {
    fp_t r;
    for (int i = 0; i < 12; i++) r.v[i] = a[i];
    return r;
}
static void st_fp(u32* r, const fp_t& x) {
    for (int i = 0; i < 12; i++) r[i] = x.v[i];
}
void h_fp_add(const u32* a, const u32* b, u32* r) { st_fp(r, fp_add(ld_fp(a), ld_fp(b))); }
void h_fp_sub(const u32* a, const u32* b, u32* r) { st_fp(r, fp_sub(ld_fp(a), ld_fp(b))); }
void h_fp_mul(const u32* a, const u32* b, u32* r) { st_fp(r, fp_mul(ld_fp(a), ld_fp(b))); }
void h_fp_to_mont(const u32* a, u32* r) { st_fp(r, fp_to_mont(ld_fp(a))); }
void h_fp_from_mont(const u32* a, u32* r) { st_fp(r, fp_from_mont(ld_fp(a))); }

// ---------------------------------------------------------------- G1
void h_g1_dbl(const u32* p, u32* r) { g1_store_jac(r, g1_dbl(g1_load_jac(p))); }
void h_g1_add(const u32* p, const u32* q, u32* r) { g1_store_jac(r, g1_add(g1_load_jac(p), g1_load_jac(q))); }
void h_g1_madd(const u32* p, const u32* q, u32* r) { g1_store_jac(r, g1_madd(g1_load_jac(p), g1_load_aff(q))); }
void h_g1_mul(const u32* p, const u32* k, int bits, u32* r) { g1_store_jac(r, g1_mul_words(g1_load_jac(p), k, bits)); }

// ---------------------------------------------------------------- kernel launches
// launch_<kernel>(grid_x, grid_y, block_x, <the kernel's own arguments>): one entry
// point per kernel, so tests/cuda_emulation.py can stand in for cupy.RawModule.
#define ZK_UNPAREN(...) __VA_ARGS__
#define ZK_LAUNCHER(name, params, args)                                              \
    void launch_##name(unsigned gx, unsigned gy, unsigned bx, ZK_UNPAREN params) {    \
        zk_launch(dim3(gx, gy), dim3(bx), [=]() { name args; });                     \
    }

ZK_LAUNCHER(fr_vec_add, (const u32* a, const u32* b, u32* out, u64 n), (a, b, out, n))
ZK_LAUNCHER(fr_vec_sub, (const u32* a, const u32* b, u32* out, u64 n), (a, b, out, n))
ZK_LAUNCHER(fr_vec_mul, (const u32* a, const u32* b, u32* out, u64 n), (a, b, out, n))
ZK_LAUNCHER(fr_vec_scale, (const u32* a, const u32* s, u32* out, u64 n), (a, s, out, n))
ZK_LAUNCHER(fr_vec_add_scalar, (const u32* a, const u32* s, u32* out, u64 n), (a, s, out, n))
ZK_LAUNCHER(fr_vec_from_i64, (const i64* v, u32* out, u64 n), (v, out, n))
ZK_LAUNCHER(fr_eq_expand, (const u32* t, const u32* r, u32* out, u64 h), (t, r, out, h))
ZK_LAUNCHER(fr_fold_stack, (const u32* tabs, const u32* s, u32* out, int k, u64 n), (tabs, s, out, k, n))
ZK_LAUNCHER(fr_round_sums, (const u32* tabs, int k, u64 n, int deg, u32* partial), (tabs, k, n, deg, partial))
ZK_LAUNCHER(fr_product_sums, (const u32* tabs, int k, u64 n, u32* partial), (tabs, k, n, partial))
ZK_LAUNCHER(fr_reduce_rows, (const u32* partial, u64 m, u32* out), (partial, m, out))
ZK_LAUNCHER(fr_vecmat_small, (const u32* v, const i64* m, u64 rows, u64 cols, u64 rchunk, u32* partial),
            (v, m, rows, cols, rchunk, partial))
ZK_LAUNCHER(fr_sum_chunks, (const u32* partial, u64 nchunks, u64 cols, u32* out), (partial, nchunks, cols, out))
ZK_LAUNCHER(msm_bucket_sums, (const u32* gens, const u32* scalars, u64 cols, int windows, int slices, u32* buckets),
            (gens, scalars, cols, windows, slices, buckets))
ZK_LAUNCHER(msm_reduce, (const u32* buckets, int windows, int slices, u32* out), (buckets, windows, slices, out))

}  // extern "C"
