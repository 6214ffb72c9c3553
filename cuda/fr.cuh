// Fr, the BLS12-381 scalar field: 8 x 32-bit little-endian limbs, Montgomery form
// with R = 2^256 -- exactly zkdl.field.vector.FrVec's convention, so an FrVec's
// (8, n) uint32 limb array is a valid device array for the kernels.
//
// Device arrays are structure-of-arrays: limb k of element e at a[k * n + e]
// (row-major (8, n)); fr_load / fr_store read and write one element.
#pragma once
#include "mont.cuh"

struct FrParams {
    static const int N = 8;
    static const u32 PINV = 0xffffffffu;
    static ZK_HD u32 p(int i) {
        const u32 v[8] = {0x00000001u, 0xffffffffu, 0xfffe5bfeu, 0x53bda402u,
                          0x09a1d805u, 0x3339d808u, 0x299d7d48u, 0x73eda753u};
        return v[i];
    }
    // R^2 mod p (raw limbs): mont_mul(x, R2) = x R, i.e. to Montgomery form
    static ZK_HD u32 r2(int i) {
        const u32 v[8] = {0xf3f29c6du, 0xc999e990u, 0x87925c23u, 0x2b6cedcbu,
                          0x7254398fu, 0x05d31496u, 0x9f59ff11u, 0x0748d9d9u};
        return v[i];
    }
    // R mod p: the Montgomery form of 1
    static ZK_HD u32 one(int i) {
        const u32 v[8] = {0xfffffffeu, 0x00000001u, 0x00034802u, 0x5884b7fau,
                          0xecbc4ff5u, 0x998c4fefu, 0xacc5056fu, 0x1824b159u};
        return v[i];
    }
};

typedef Mont<FrParams> FR;

struct fr_t {
    u32 v[8];
};

ZK_HD fr_t fr_zero() {
    fr_t r;
    FR::zero(r.v);
    return r;
}

ZK_HD fr_t fr_one() {
    fr_t r;
#pragma unroll
    for (int i = 0; i < 8; i++) r.v[i] = FrParams::one(i);
    return r;
}

ZK_HD fr_t fr_add(const fr_t& a, const fr_t& b) {
    fr_t r;
    FR::add(r.v, a.v, b.v);
    return r;
}

ZK_HD fr_t fr_sub(const fr_t& a, const fr_t& b) {
    fr_t r;
    FR::sub(r.v, a.v, b.v);
    return r;
}

ZK_HD fr_t fr_mul(const fr_t& a, const fr_t& b) {
    fr_t r;
    FR::mul(r.v, a.v, b.v);
    return r;
}

// canonical (x < p) -> Montgomery form x R mod p
ZK_HD fr_t fr_to_mont(const fr_t& a) {
    fr_t r2;
#pragma unroll
    for (int i = 0; i < 8; i++) r2.v[i] = FrParams::r2(i);
    return fr_mul(a, r2);
}

// Montgomery form -> canonical: multiply by the raw integer 1
ZK_HD fr_t fr_from_mont(const fr_t& a) {
    fr_t one;
    FR::zero(one.v);
    one.v[0] = 1;
    return fr_mul(a, one);
}

// Montgomery form of a signed 64-bit integer v (as v mod p); |v| < 2^63
ZK_HD fr_t fr_from_i64(i64 x) {
    u64 u = x < 0 ? (u64)(-x) : (u64)x;
    fr_t t;
    FR::zero(t.v);
    t.v[0] = (u32)u;
    t.v[1] = (u32)(u >> 32);
    t = fr_to_mont(t);
    return x < 0 ? fr_sub(fr_zero(), t) : t;
}

ZK_HD fr_t fr_load(const u32* a, u64 n, u64 e) {
    fr_t r;
#pragma unroll
    for (int k = 0; k < 8; k++) r.v[k] = a[(u64)k * n + e];
    return r;
}

ZK_HD void fr_store(u32* a, u64 n, u64 e, const fr_t& x) {
#pragma unroll
    for (int k = 0; k < 8; k++) a[(u64)k * n + e] = x.v[k];
}

// Reduce lazy limb sums X = sum_k (lo[k] + 2^16 hi[k]) 2^(32k) (per-limb uint64 sums
// of Montgomery limbs times 16-bit digits; X < 2^306) to a Montgomery element equal
// to X mod p. X is normalised to eleven 32-bit words, divided by 2^64 with a two-word
// Montgomery reduction (Y = (X + mP) / 2^64 < 2^256 after two conditional
// subtractions) and multiplied back by 2^64 via mont_mul(Y, 2^320 mod p).
// Same steps as zkdl.field.kernels.k_vecmat_small_finish.
ZK_HD fr_t fr_from_lazy_sums(const u64* lo, const u64* hi) {
    u64 w[11];
#pragma unroll
    for (int q = 0; q < 11; q++) w[q] = 0;
#pragma unroll
    for (int k = 0; k < 8; k++) {
        u64 a = lo[k], h = hi[k];
        w[k] += a & 0xffffffffull;
        w[k + 1] += a >> 32;
        u64 hl = (h & 0xffffull) << 16;
        u64 hh = h >> 16;
        w[k] += hl;
        w[k + 1] += hh & 0xffffffffull;
        w[k + 2] += hh >> 32;
    }
    u64 c = 0;
#pragma unroll
    for (int q = 0; q < 11; q++) {
        u64 s = w[q] + c;
        w[q] = s & 0xffffffffull;
        c = s >> 32;
    }
    for (int i = 0; i < 2; i++) {
        u64 mm = (u32)((u32)w[i] * FrParams::PINV);
        c = 0;
        for (int k = 0; k < 8; k++) {
            u64 s = w[i + k] + mm * FrParams::p(k) + c;
            w[i + k] = s & 0xffffffffull;
            c = s >> 32;
        }
        for (int q = i + 8; q < 11 && c != 0; q++) {
            u64 s = w[q] + c;
            w[q] = s & 0xffffffffull;
            c = s >> 32;
        }
    }
    fr_t y;
#pragma unroll
    for (int k = 0; k < 8; k++) y.v[k] = (u32)w[k + 2];
    FR::reduce_once(y.v, y.v);
    FR::reduce_once(y.v, y.v);
    // raw limbs of 2^320 mod p: mont_mul(Y, 2^320) = Y 2^320 / 2^256 = Y 2^64
    const u32 k320[8] = {0x0121c884u, 0xc98da28eu, 0xc7363c67u, 0xe6f4f4a0u,
                         0xe92e7df1u, 0xb2d6ebc4u, 0x9d26242au, 0x19ae5794u};
    fr_t k;
#pragma unroll
    for (int i = 0; i < 8; i++) k.v[i] = k320[i];
    return fr_mul(y, k);
}
