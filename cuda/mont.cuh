// Generic Montgomery arithmetic on N little-endian 32-bit limbs (host and device).
//
// Used by fr.cuh (BLS12-381 scalar field, N = 8) and fp.cuh (base field, N = 12).
// Multiplication is CIOS (Koc, Acar, Kaliski 1996) with 32-bit words in the
// "no final carry" form: it needs the top word of the modulus below 2^31 - 1, which
// holds for both BLS12-381 moduli. Inputs < p give outputs < p. This is the same
// algorithm, word for word, as zkdl/field/gen_arith.py, so limb arrays move
// between FrVec (numpy) and the GPU without conversion.
//
// The file compiles with nvcc/NVRTC and, for the host tests, with g++ given
// -D__host__= -D__device__= -D__forceinline__=inline. No standard headers are
// included (NVRTC has none by default).
#pragma once

typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long i64;

#define ZK_HD __host__ __device__ __forceinline__
// Curve-level routines are large; inlining them everywhere multiplies code size
// (and compile time) many times over. The host test shim defines ZK_NOINLINE itself.
#ifndef ZK_NOINLINE
#define ZK_NOINLINE __host__ __device__ __noinline__
#endif

// M provides: static const int N; static ZK_HD u32 p(int i) (limb i of the modulus);
// static const u32 PINV (= -p^-1 mod 2^32).
template <class M>
struct Mont {
    static const int N = M::N;

    static ZK_HD bool is_zero(const u32* a) {
        u32 acc = 0;
#pragma unroll
        for (int i = 0; i < N; i++) acc |= a[i];
        return acc == 0;
    }

    static ZK_HD bool equal(const u32* a, const u32* b) {
        u32 acc = 0;
#pragma unroll
        for (int i = 0; i < N; i++) acc |= a[i] ^ b[i];
        return acc == 0;
    }

    static ZK_HD void copy(u32* r, const u32* a) {
#pragma unroll
        for (int i = 0; i < N; i++) r[i] = a[i];
    }

    static ZK_HD void zero(u32* r) {
#pragma unroll
        for (int i = 0; i < N; i++) r[i] = 0;
    }

    // r = t - p if t >= p else t (t < 2p); r may alias t
    static ZK_HD void reduce_once(u32* r, const u32* t) {
        u32 d[N];
        u64 br = 0;
#pragma unroll
        for (int j = 0; j < N; j++) {
            u64 s = (u64)t[j] + 0x100000000ull - M::p(j) - br;
            d[j] = (u32)s;
            br = 1 - (s >> 32);
        }
        bool keep = br != 0;
#pragma unroll
        for (int j = 0; j < N; j++) r[j] = keep ? t[j] : d[j];
    }

    static ZK_HD void add(u32* r, const u32* a, const u32* b) {
        u32 t[N];
        u64 c = 0;
#pragma unroll
        for (int j = 0; j < N; j++) {
            u64 s = (u64)a[j] + b[j] + c;
            t[j] = (u32)s;
            c = s >> 32;
        }
        reduce_once(r, t);
    }

    static ZK_HD void sub(u32* r, const u32* a, const u32* b) {
        u32 t[N];
        u64 br = 0;
#pragma unroll
        for (int j = 0; j < N; j++) {
            u64 s = (u64)a[j] + 0x100000000ull - b[j] - br;
            t[j] = (u32)s;
            br = 1 - (s >> 32);
        }
        u32 mk = 0u - (u32)br;  // all ones when a < b: add p back
        u64 c = 0;
#pragma unroll
        for (int j = 0; j < N; j++) {
            u64 s = (u64)t[j] + (M::p(j) & mk) + c;
            r[j] = (u32)s;
            c = s >> 32;
        }
    }

    // r = a * b / 2^(32N) mod p (CIOS, no final carry); r may alias a or b
    static ZK_HD void mul(u32* r, const u32* a, const u32* b) {
        u32 t[N];
#pragma unroll
        for (int j = 0; j < N; j++) t[j] = 0;
#pragma unroll
        for (int i = 0; i < N; i++) {
            u64 bi = b[i];
            u64 s = (u64)t[0] + (u64)a[0] * bi;
            u64 A = s >> 32;
            u32 t0 = (u32)s;
            u64 m = (u32)(t0 * M::PINV);
            u64 C = ((u64)t0 + m * M::p(0)) >> 32;
#pragma unroll
            for (int j = 1; j < N; j++) {
                s = (u64)t[j] + (u64)a[j] * bi + A;
                A = s >> 32;
                u32 tj = (u32)s;
                s = (u64)tj + m * M::p(j) + C;
                C = s >> 32;
                t[j - 1] = (u32)s;
            }
            t[N - 1] = (u32)(C + A);
        }
        reduce_once(r, t);
    }

    static ZK_HD void sqr(u32* r, const u32* a) { mul(r, a, a); }

    static ZK_HD void dbl(u32* r, const u32* a) { add(r, a, a); }
};
