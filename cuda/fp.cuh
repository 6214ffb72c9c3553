// Fp, the BLS12-381 base field (381-bit prime q): 12 x 32-bit little-endian limbs,
// Montgomery form with R = 2^384. Same CIOS arithmetic as Fr (mont.cuh); the top
// word of q (0x1a0111ea) is far below 2^31, so the no-final-carry form applies.
#pragma once
#include "mont.cuh"

struct FpParams {
    static const int N = 12;
    static const u32 PINV = 0xfffcfffdu;
    static ZK_HD u32 p(int i) {
        const u32 v[12] = {0xffffaaabu, 0xb9feffffu, 0xb153ffffu, 0x1eabfffeu, 0xf6b0f624u, 0x6730d2a0u,
                           0xf38512bfu, 0x64774b84u, 0x434bacd7u, 0x4b1ba7b6u, 0x397fe69au, 0x1a0111eau};
        return v[i];
    }
    static ZK_HD u32 r2(int i) {
        const u32 v[12] = {0x1c341746u, 0xf4df1f34u, 0x09d104f1u, 0x0a76e6a6u, 0x4c95b6d5u, 0x8de5476cu,
                           0x939d83c0u, 0x67eb88a9u, 0xb519952du, 0x9a793e85u, 0x92cae3aau, 0x11988fe5u};
        return v[i];
    }
    static ZK_HD u32 one(int i) {
        const u32 v[12] = {0x0002fffdu, 0x76090000u, 0xc40c0002u, 0xebf4000bu, 0x53c758bau, 0x5f489857u,
                           0x70525745u, 0x77ce5853u, 0xa256ec6du, 0x5c071a97u, 0xfa80e493u, 0x15f65ec3u};
        return v[i];
    }
};

typedef Mont<FpParams> FP;

struct fp_t {
    u32 v[12];
};

ZK_HD fp_t fp_zero() {
    fp_t r;
    FP::zero(r.v);
    return r;
}

ZK_HD fp_t fp_one() {
    fp_t r;
#pragma unroll
    for (int i = 0; i < 12; i++) r.v[i] = FpParams::one(i);
    return r;
}

ZK_HD bool fp_is_zero(const fp_t& a) { return FP::is_zero(a.v); }

ZK_HD bool fp_eq(const fp_t& a, const fp_t& b) { return FP::equal(a.v, b.v); }

ZK_HD fp_t fp_add(const fp_t& a, const fp_t& b) {
    fp_t r;
    FP::add(r.v, a.v, b.v);
    return r;
}

ZK_HD fp_t fp_sub(const fp_t& a, const fp_t& b) {
    fp_t r;
    FP::sub(r.v, a.v, b.v);
    return r;
}

ZK_HD fp_t fp_mul(const fp_t& a, const fp_t& b) {
    fp_t r;
    FP::mul(r.v, a.v, b.v);
    return r;
}

ZK_HD fp_t fp_sqr(const fp_t& a) { return fp_mul(a, a); }

ZK_HD fp_t fp_dbl(const fp_t& a) { return fp_add(a, a); }

ZK_HD fp_t fp_to_mont(const fp_t& a) {
    fp_t r2;
#pragma unroll
    for (int i = 0; i < 12; i++) r2.v[i] = FpParams::r2(i);
    return fp_mul(a, r2);
}

ZK_HD fp_t fp_from_mont(const fp_t& a) {
    fp_t one = fp_zero();
    one.v[0] = 1;
    return fp_mul(a, one);
}
