// BLS12-381 G1 (y^2 = x^3 + 4 over Fp) in Jacobian coordinates: (X, Y, Z) is the
// affine point (X / Z^2, Y / Z^3); Z = 0 is the point at infinity. Affine points
// (the fixed generators of an MSM) are (x, y) with (0, 0) standing for infinity, the
// convention of arkworks' to_xy_bytes. All coordinates are in Montgomery form.
//
// Formulas (a = 0 curve; Explicit-Formulas Database, hyperelliptic.org/EFD):
//   g1_dbl : dbl-2009-l    (2M + 5S)
//   g1_add : add-2007-bl   (11M + 5S), with the P == Q and P == -Q cases handled
//   g1_madd: madd-2007-bl  (7M + 4S), Jacobian + affine
#pragma once
#include "fp.cuh"

struct g1_aff {
    fp_t x, y;
};

struct g1_jac {
    fp_t x, y, z;
};

ZK_HD g1_jac g1_infinity() {
    g1_jac r;
    r.x = fp_one();
    r.y = fp_one();
    r.z = fp_zero();
    return r;
}

ZK_HD bool g1_is_inf(const g1_jac& p) { return fp_is_zero(p.z); }

ZK_HD bool g1_aff_is_inf(const g1_aff& p) { return fp_is_zero(p.x) && fp_is_zero(p.y); }

ZK_HD g1_jac g1_from_aff(const g1_aff& a) {
    if (g1_aff_is_inf(a)) return g1_infinity();
    g1_jac r;
    r.x = a.x;
    r.y = a.y;
    r.z = fp_one();
    return r;
}

ZK_NOINLINE g1_jac g1_dbl(const g1_jac& p) {
    if (g1_is_inf(p)) return p;
    fp_t A = fp_sqr(p.x);
    fp_t B = fp_sqr(p.y);
    fp_t C = fp_sqr(B);
    fp_t D = fp_sub(fp_sub(fp_sqr(fp_add(p.x, B)), A), C);
    D = fp_dbl(D);
    fp_t E = fp_add(fp_dbl(A), A);
    fp_t F = fp_sqr(E);
    g1_jac r;
    r.x = fp_sub(F, fp_dbl(D));
    fp_t C8 = fp_dbl(fp_dbl(fp_dbl(C)));
    r.y = fp_sub(fp_mul(E, fp_sub(D, r.x)), C8);
    r.z = fp_dbl(fp_mul(p.y, p.z));
    return r;
}

ZK_NOINLINE g1_jac g1_add(const g1_jac& p, const g1_jac& q) {
    if (g1_is_inf(p)) return q;
    if (g1_is_inf(q)) return p;
    fp_t z1z1 = fp_sqr(p.z);
    fp_t z2z2 = fp_sqr(q.z);
    fp_t u1 = fp_mul(p.x, z2z2);
    fp_t u2 = fp_mul(q.x, z1z1);
    fp_t s1 = fp_mul(fp_mul(p.y, q.z), z2z2);
    fp_t s2 = fp_mul(fp_mul(q.y, p.z), z1z1);
    fp_t h = fp_sub(u2, u1);
    fp_t rr = fp_dbl(fp_sub(s2, s1));
    if (fp_is_zero(h)) {
        if (fp_is_zero(rr)) return g1_dbl(p);
        return g1_infinity();
    }
    fp_t i = fp_sqr(fp_dbl(h));
    fp_t j = fp_mul(h, i);
    fp_t v = fp_mul(u1, i);
    g1_jac r;
    r.x = fp_sub(fp_sub(fp_sqr(rr), j), fp_dbl(v));
    r.y = fp_sub(fp_mul(rr, fp_sub(v, r.x)), fp_dbl(fp_mul(s1, j)));
    r.z = fp_mul(fp_sub(fp_sub(fp_sqr(fp_add(p.z, q.z)), z1z1), z2z2), h);
    return r;
}

ZK_NOINLINE g1_jac g1_madd(const g1_jac& p, const g1_aff& q) {
    if (g1_aff_is_inf(q)) return p;
    if (g1_is_inf(p)) return g1_from_aff(q);
    fp_t z1z1 = fp_sqr(p.z);
    fp_t u2 = fp_mul(q.x, z1z1);
    fp_t s2 = fp_mul(fp_mul(q.y, p.z), z1z1);
    fp_t h = fp_sub(u2, p.x);
    fp_t rr = fp_dbl(fp_sub(s2, p.y));
    if (fp_is_zero(h)) {
        if (fp_is_zero(rr)) return g1_dbl(p);
        return g1_infinity();
    }
    fp_t hh = fp_sqr(h);
    fp_t i = fp_dbl(fp_dbl(hh));
    fp_t j = fp_mul(h, i);
    fp_t v = fp_mul(p.x, i);
    g1_jac r;
    r.x = fp_sub(fp_sub(fp_sqr(rr), j), fp_dbl(v));
    r.y = fp_sub(fp_mul(rr, fp_sub(v, r.x)), fp_dbl(fp_mul(p.y, j)));
    r.z = fp_sub(fp_sub(fp_sqr(fp_add(p.z, h)), z1z1), hh);
    return r;
}

// k P for a non-negative integer k of `bits` bits given as little-endian 32-bit words
// (left-to-right double-and-add; not constant time -- MSM scalars are the prover's
// own witness digits, and the GPU run is not a side-channel-hardened setting).
ZK_NOINLINE g1_jac g1_mul_words(const g1_jac& p, const u32* k, int bits) {
    g1_jac acc = g1_infinity();
    for (int b = bits - 1; b >= 0; b--) {
        acc = g1_dbl(acc);
        if ((k[b >> 5] >> (b & 31)) & 1u) acc = g1_add(acc, p);
    }
    return acc;
}

// Load / store Jacobian points as 36 consecutive u32 (x, y, z limbs) and affine
// points as 24 (x, y).
ZK_HD g1_aff g1_load_aff(const u32* a) {
    g1_aff r;
#pragma unroll
    for (int i = 0; i < 12; i++) {
        r.x.v[i] = a[i];
        r.y.v[i] = a[12 + i];
    }
    return r;
}

ZK_HD g1_jac g1_load_jac(const u32* a) {
    g1_jac r;
#pragma unroll
    for (int i = 0; i < 12; i++) {
        r.x.v[i] = a[i];
        r.y.v[i] = a[12 + i];
        r.z.v[i] = a[24 + i];
    }
    return r;
}

ZK_HD void g1_store_jac(u32* a, const g1_jac& p) {
#pragma unroll
    for (int i = 0; i < 12; i++) {
        a[i] = p.x.v[i];
        a[12 + i] = p.y.v[i];
        a[24 + i] = p.z.v[i];
    }
}
