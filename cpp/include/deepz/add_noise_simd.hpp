// deepz/add_noise_simd.hpp -- the Gaussian noise row, vectorised across Philox
// blocks (CPU only: never include this from CUDA code).
//
// gaussian_noise_row (add_noise.hpp) draws one Philox block (4 pixels) at a time
// and leaves the Box-Muller math to the auto-vectoriser. Here Philox-4x32-10
// runs for 4 blocks at once in SSE2 registers (the x86-64 baseline) or 8 at
// once in AVX2 registers: each 32-bit lane is one block, each 32x32 -> 64-bit
// product is a pmuludq on the even and odd lanes. Integer arithmetic: the
// words are those of philox_draw, bit for bit. On x86-64 with AVX2 the float32
// Box-Muller math (uniforms, log, sincos of the quarter turn, sqrt) then runs
// on 8 lanes in registers: the operations of add_noise.hpp's DEEPZ_HD functions,
// one IEEE operation per intrinsic, in the same order, never fused (no FMA
// intrinsic is used and -ffp-contract=off stops the compiler from fusing);
// sqrt and division are correctly rounded in both. So every path gives the
// bits of the scalar functions, which tests/reference_add_noise.py reproduces in
// numpy (tests/test_add_noise.py asserts equality for every instruction set).
#pragma once

#if defined(__CUDACC__)
#error "deepz/add_noise_simd.hpp is CPU-only"
#endif

#include <cstdint>
#include <cstring>

#include "deepz/cpu.hpp"
#include "deepz/add_noise.hpp"
#include "deepz/philox.hpp"

#if DEEPZ_X86_DISPATCH
#include <immintrin.h>
#endif

namespace deepz {
namespace noise_simd {

// Philox words of blocks b0 .. b0 + nb - 1 (word w, spectrum `index`) into
// words[4 i + j] = philox_draw(seed, b0 + i, w, index).v[j]. The portable
// version, one block at a time.
inline void philox_blocks_scalar(std::uint64_t seed, std::uint32_t b0, std::int64_t nb,
                                 std::uint32_t w, std::uint64_t index, std::uint32_t* words) {
  for (std::int64_t i = 0; i < nb; ++i) {
    const Philox4x32 x = philox_draw(seed, b0 + static_cast<std::uint32_t>(i), w, index);
    words[4 * i + 0] = x.v[0];
    words[4 * i + 1] = x.v[1];
    words[4 * i + 2] = x.v[2];
    words[4 * i + 3] = x.v[3];
  }
}

#if DEEPZ_X86_DISPATCH
// ---- SSE2: 4 blocks per step --------------------------------------------------
// (hi, lo) of the 32x32 -> 64-bit products m * a, lane by lane (m broadcast).
inline void mulhilo_sse2(__m128i a, __m128i m, __m128i* hi, __m128i* lo) {
  const __m128i lo_mask = _mm_set1_epi64x(0xffffffffll);
  const __m128i pe = _mm_mul_epu32(a, m);                      // lanes 0, 2
  const __m128i po = _mm_mul_epu32(_mm_srli_epi64(a, 32), m);  // lanes 1, 3
  *lo = _mm_or_si128(_mm_and_si128(pe, lo_mask), _mm_slli_epi64(po, 32));
  *hi = _mm_or_si128(_mm_srli_epi64(pe, 32), _mm_andnot_si128(lo_mask, po));
}

// words for nb blocks; writes 4 * roundup(nb, 16) words (the caller's buffer
// holds them).
inline void philox_blocks_sse2(std::uint64_t seed, std::uint32_t b0, std::int64_t nb,
                               std::uint32_t w, std::uint64_t index, std::uint32_t* words) {
  const __m128i m0 = _mm_set1_epi32(static_cast<int>(kPhiloxM0));
  const __m128i m1 = _mm_set1_epi32(static_cast<int>(kPhiloxM1));
  __m128i key0[10], key1[10];
  std::uint32_t k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    key0[r] = _mm_set1_epi32(static_cast<int>(k0));
    key1[r] = _mm_set1_epi32(static_cast<int>(k1));
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  const __m128i cw = _mm_set1_epi32(static_cast<int>(w));
  const __m128i clo = _mm_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(index)));
  const __m128i chi = _mm_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(index >> 32)));
  const __m128i step = _mm_setr_epi32(0, 1, 2, 3);
  constexpr int kU = 4;  // independent vectors in flight: one alone waits on latency
  for (std::int64_t i = 0; i < nb; i += 4 * kU) {
    __m128i c0[kU], c1[kU], c2[kU], c3[kU];
    for (int u = 0; u < kU; ++u) {
      c0[u] = _mm_add_epi32(
          _mm_set1_epi32(static_cast<int>(b0 + static_cast<std::uint32_t>(i + 4 * u))), step);
      c1[u] = cw;
      c2[u] = clo;
      c3[u] = chi;
    }
    for (int r = 0; r < 10; ++r) {
      for (int u = 0; u < kU; ++u) {
        __m128i hi0, lo0, hi1, lo1;
        mulhilo_sse2(c0[u], m0, &hi0, &lo0);
        mulhilo_sse2(c2[u], m1, &hi1, &lo1);
        c0[u] = _mm_xor_si128(_mm_xor_si128(hi1, c1[u]), key0[r]);
        c1[u] = lo1;
        c2[u] = _mm_xor_si128(_mm_xor_si128(hi0, c3[u]), key1[r]);
        c3[u] = lo0;
      }
    }
    for (int u = 0; u < kU; ++u) {  // 4x4 transpose: lane = block -> block-major words
      const __m128i t0 = _mm_unpacklo_epi32(c0[u], c1[u]), t1 = _mm_unpacklo_epi32(c2[u], c3[u]);
      const __m128i t2 = _mm_unpackhi_epi32(c0[u], c1[u]), t3 = _mm_unpackhi_epi32(c2[u], c3[u]);
      __m128i* out = reinterpret_cast<__m128i*>(words + 4 * (i + 4 * u));
      _mm_storeu_si128(out + 0, _mm_unpacklo_epi64(t0, t1));
      _mm_storeu_si128(out + 1, _mm_unpackhi_epi64(t0, t1));
      _mm_storeu_si128(out + 2, _mm_unpacklo_epi64(t2, t3));
      _mm_storeu_si128(out + 3, _mm_unpackhi_epi64(t2, t3));
    }
  }
}

// ---- AVX2: 8 blocks per step --------------------------------------------------
#define DEEPZ_AVX2 __attribute__((target("avx2"))) inline

DEEPZ_AVX2 void mulhilo_avx2(__m256i a, __m256i m, __m256i* hi, __m256i* lo) {
  const __m256i pe = _mm256_mul_epu32(a, m);                         // lanes 0, 2, 4, 6
  const __m256i po = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);  // lanes 1, 3, 5, 7
  *lo = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
}

// words for nb blocks; writes 4 * roundup(nb, 32) words.
DEEPZ_AVX2 void philox_blocks_avx2(std::uint64_t seed, std::uint32_t b0, std::int64_t nb,
                                   std::uint32_t w, std::uint64_t index, std::uint32_t* words) {
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(kPhiloxM0));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(kPhiloxM1));
  __m256i key0[10], key1[10];
  std::uint32_t k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    key0[r] = _mm256_set1_epi32(static_cast<int>(k0));
    key1[r] = _mm256_set1_epi32(static_cast<int>(k1));
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  const __m256i cw = _mm256_set1_epi32(static_cast<int>(w));
  const __m256i clo = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(index)));
  const __m256i chi = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(index >> 32)));
  const __m256i step = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  constexpr int kU = 4;  // independent vectors in flight: one alone waits on latency
  for (std::int64_t i = 0; i < nb; i += 8 * kU) {
    __m256i c0[kU], c1[kU], c2[kU], c3[kU];
    for (int u = 0; u < kU; ++u) {
      c0[u] = _mm256_add_epi32(
          _mm256_set1_epi32(static_cast<int>(b0 + static_cast<std::uint32_t>(i + 8 * u))), step);
      c1[u] = cw;
      c2[u] = clo;
      c3[u] = chi;
    }
    for (int r = 0; r < 10; ++r) {
      for (int u = 0; u < kU; ++u) {
        __m256i hi0, lo0, hi1, lo1;
        mulhilo_avx2(c0[u], m0, &hi0, &lo0);
        mulhilo_avx2(c2[u], m1, &hi1, &lo1);
        c0[u] = _mm256_xor_si256(_mm256_xor_si256(hi1, c1[u]), key0[r]);
        c1[u] = lo1;
        c2[u] = _mm256_xor_si256(_mm256_xor_si256(hi0, c3[u]), key1[r]);
        c3[u] = lo0;
      }
    }
    for (int u = 0; u < kU; ++u) {
      // per 128-bit half a 4x4 transpose (blocks 0-3 | 4-7), then the halves
      const __m256i t0 = _mm256_unpacklo_epi32(c0[u], c1[u]);
      const __m256i t1 = _mm256_unpacklo_epi32(c2[u], c3[u]);
      const __m256i t2 = _mm256_unpackhi_epi32(c0[u], c1[u]);
      const __m256i t3 = _mm256_unpackhi_epi32(c2[u], c3[u]);
      const __m256i r0 = _mm256_unpacklo_epi64(t0, t1), r1 = _mm256_unpackhi_epi64(t0, t1);
      const __m256i r2 = _mm256_unpacklo_epi64(t2, t3), r3 = _mm256_unpackhi_epi64(t2, t3);
      __m256i* out = reinterpret_cast<__m256i*>(words + 4 * (i + 8 * u));
      _mm256_storeu_si256(out + 0, _mm256_permute2x128_si256(r0, r1, 0x20));  // blocks 0, 1
      _mm256_storeu_si256(out + 1, _mm256_permute2x128_si256(r2, r3, 0x20));  // blocks 2, 3
      _mm256_storeu_si256(out + 2, _mm256_permute2x128_si256(r0, r1, 0x31));  // blocks 4, 5
      _mm256_storeu_si256(out + 3, _mm256_permute2x128_si256(r2, r3, 0x31));  // blocks 6, 7
    }
  }
}

// ---- AVX2: float32 Box-Muller on 8 lanes -----------------------------------------
// Each function is its scalar namesake in add_noise.hpp / philox.hpp, operation
// for operation (the comments name them).
namespace avx2 {
DEEPZ_AVX2 __m256 add(__m256 a, __m256 b) {
  return _mm256_add_ps(a, b);
}
DEEPZ_AVX2 __m256 sub(__m256 a, __m256 b) {
  return _mm256_sub_ps(a, b);
}
DEEPZ_AVX2 __m256 mul(__m256 a, __m256 b) {
  return _mm256_mul_ps(a, b);
}
DEEPZ_AVX2 __m256 set(float x) {
  return _mm256_set1_ps(x);
}
// c ? a : b with c a lane mask
DEEPZ_AVX2 __m256 select(__m256 c, __m256 a, __m256 b) {
  return _mm256_blendv_ps(b, a, c);
}

// rmath::horner(x, c0, c1, ...) = c0 + x (c1 + x (...)), innermost first
DEEPZ_AVX2 __m256 horner(__m256 /*x*/, float c) {
  return set(c);
}
template <class... Rest>
DEEPZ_AVX2 __m256 horner(__m256 x, float c, Rest... rest) {
  return add(set(c), mul(x, horner(x, rest...)));
}

// uniform_f32
DEEPZ_AVX2 __m256 uniform_f32(__m256i x) {
  return mul(add(_mm256_cvtepi32_ps(_mm256_srli_epi32(x, 9)), set(0.5f)), set(0x1p-23f));
}

// rmath::log_reduced(float, float)
DEEPZ_AVX2 __m256 log_reduced(__m256 f, __m256 e) {
  const __m256 hfsq = mul(mul(set(0.5f), f), f);
  const __m256 s = _mm256_div_ps(f, add(set(2.0f), f));
  const __m256 z = mul(s, s);
  const __m256 r = mul(
      z, horner(z, 0x1.555556p-1f, 0x1.99999ap-2f, 0x1.24924ap-2f, 0x1.c71c72p-3f, 0x1.745d18p-3f));
  return sub(mul(e, set(rmath::kLn2HiF)),
             sub(sub(hfsq, add(mul(s, add(hfsq, r)), mul(e, set(rmath::kLn2LoF)))), f));
}

// rmath::log_normal(float) with eadj = 0
DEEPZ_AVX2 __m256 log_normal(__m256 x) {
  const __m256i b = _mm256_castps_si256(x);
  const __m256 m1 = _mm256_castsi256_ps(_mm256_or_si256(
      _mm256_and_si256(b, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f800000)));
  const __m256 half = mul(set(0.5f), m1);
  const __m256 big = _mm256_cmp_ps(m1, set(rmath::kSqrt2F), _CMP_GT_OQ);
  const __m256 m = select(big, half, m1);
  // e = (b >> 23) - 127 + big (big is -1 where true)
  const __m256i e = _mm256_sub_epi32(
      _mm256_sub_epi32(_mm256_srli_epi32(b, 23), _mm256_set1_epi32(127)), _mm256_castps_si256(big));
  return log_reduced(sub(m, set(1.0f)), _mm256_cvtepi32_ps(e));
}

// box_muller_r2(a, float) and its square root
DEEPZ_AVX2 __m256 box_muller_r(__m256i a) {
  return _mm256_sqrt_ps(mul(set(-2.0f), log_normal(uniform_f32(a))));
}

// box_muller_angle(b, float): rmath::sincos_quarter(rq, q)
DEEPZ_AVX2 void box_muller_angle(__m256i b, __m256* s, __m256* c) {
  const __m256i k = _mm256_srli_epi32(b, 9);
  const __m256i q = _mm256_srai_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(1 << 20)), 21);
  const __m256i j = _mm256_sub_epi32(k, _mm256_slli_epi32(q, 21));
  const __m256 r = mul(add(_mm256_cvtepi32_ps(j), set(0.5f)), set(0x1p-21f));
  const __m256 z = mul(r, r);
  const __m256 sr = mul(r, horner(z, 0x1.921fb6p+0f, -0x1.4abbcep-1f, 0x1.466bc6p-4f,
                                  -0x1.32d2ccp-8f, 0x1.507834p-13f));
  const __m256 cr = horner(z, 1.0f, -0x1.3bd3ccp+0f, 0x1.03c1f0p-2f, -0x1.55d3c8p-6f,
                           0x1.e1f506p-11f, -0x1.a6d1f2p-16f);
  const __m256i q3 = _mm256_and_si256(q, _mm256_set1_epi32(3));
  const __m256i one = _mm256_set1_epi32(1);
  const __m256 odd =
      _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(q3, one), one));  // (q & 1) != 0
  const __m256 ss = select(odd, cr, sr);
  const __m256 cc = select(odd, sr, cr);
  const __m256 sign = set(-0.0f);                                         // -x flips the sign bit
  const __m256 s_neg = _mm256_castsi256_ps(_mm256_cmpgt_epi32(q3, one));  // q >= 2
  const __m256 c_neg = _mm256_castsi256_ps(
      _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_add_epi32(q3, one), _mm256_set1_epi32(2)),
                         _mm256_set1_epi32(2)));  // q == 1 or q == 2
  *s = select(s_neg, _mm256_xor_ps(ss, sign), ss);
  *c = select(c_neg, _mm256_xor_ps(cc, sign), cc);
}

// 4x4 transposes of 32-bit lanes within each 128-bit half, then the halves:
// (v0, v1, v2, v3) with lane i = block i -> out[8 i' + 4 block + word].
DEEPZ_AVX2 void store_block_major(__m256i v0, __m256i v1, __m256i v2, __m256i v3, void* dst) {
  const __m256i t0 = _mm256_unpacklo_epi32(v0, v1), t1 = _mm256_unpacklo_epi32(v2, v3);
  const __m256i t2 = _mm256_unpackhi_epi32(v0, v1), t3 = _mm256_unpackhi_epi32(v2, v3);
  const __m256i r0 = _mm256_unpacklo_epi64(t0, t1), r1 = _mm256_unpackhi_epi64(t0, t1);
  const __m256i r2 = _mm256_unpacklo_epi64(t2, t3), r3 = _mm256_unpackhi_epi64(t2, t3);
  __m256i* out = static_cast<__m256i*>(dst);
  _mm256_storeu_si256(out + 0, _mm256_permute2x128_si256(r0, r1, 0x20));  // blocks 0, 1
  _mm256_storeu_si256(out + 1, _mm256_permute2x128_si256(r2, r3, 0x20));  // blocks 2, 3
  _mm256_storeu_si256(out + 2, _mm256_permute2x128_si256(r0, r1, 0x31));  // blocks 4, 5
  _mm256_storeu_si256(out + 3, _mm256_permute2x128_si256(r2, r3, 0x31));  // blocks 6, 7
}
}  // namespace avx2

// The float32 standard normals of blocks b0 .. b0 + nb - 1 in pixel order:
// z[4 i + j] is normal_pair's output for pixel 4 (b0 + i) + j. Writes
// 4 * roundup(nb, 32) values.
DEEPZ_AVX2 void normals_f32_avx2(std::uint64_t seed, std::uint32_t b0, std::int64_t nb,
                                 std::uint64_t index, float* z) {
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(kPhiloxM0));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(kPhiloxM1));
  __m256i key0[10], key1[10];
  std::uint32_t k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    key0[r] = _mm256_set1_epi32(static_cast<int>(k0));
    key1[r] = _mm256_set1_epi32(static_cast<int>(k1));
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  const __m256i clo = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(index)));
  const __m256i chi = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(index >> 32)));
  const __m256i step = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  constexpr int kU = 4;
  for (std::int64_t i = 0; i < nb; i += 8 * kU) {
    __m256i c0[kU], c1[kU], c2[kU], c3[kU];
    for (int u = 0; u < kU; ++u) {
      c0[u] = _mm256_add_epi32(
          _mm256_set1_epi32(static_cast<int>(b0 + static_cast<std::uint32_t>(i + 8 * u))), step);
      c1[u] = _mm256_setzero_si256();  // stream word 0: Gaussian
      c2[u] = clo;
      c3[u] = chi;
    }
    for (int r = 0; r < 10; ++r) {
      for (int u = 0; u < kU; ++u) {
        __m256i hi0, lo0, hi1, lo1;
        mulhilo_avx2(c0[u], m0, &hi0, &lo0);
        mulhilo_avx2(c2[u], m1, &hi1, &lo1);
        c0[u] = _mm256_xor_si256(_mm256_xor_si256(hi1, c1[u]), key0[r]);
        c1[u] = lo1;
        c2[u] = _mm256_xor_si256(_mm256_xor_si256(hi0, c3[u]), key1[r]);
        c3[u] = lo0;
      }
    }
    for (int u = 0; u < kU; ++u) {
      // block words (x0, x1) -> pixels 4b, 4b + 1; (x2, x3) -> 4b + 2, 4b + 3
      const __m256 ra = avx2::box_muller_r(c0[u]);
      const __m256 rb = avx2::box_muller_r(c2[u]);
      __m256 sa, ca, sb, cb;
      avx2::box_muller_angle(c1[u], &sa, &ca);
      avx2::box_muller_angle(c3[u], &sb, &cb);
      avx2::store_block_major(_mm256_castps_si256(avx2::mul(ra, ca)),
                              _mm256_castps_si256(avx2::mul(ra, sa)),
                              _mm256_castps_si256(avx2::mul(rb, cb)),
                              _mm256_castps_si256(avx2::mul(rb, sb)), z + 4 * (i + 8 * u));
    }
  }
}
#endif  // DEEPZ_X86_DISPATCH

enum class Isa : int { scalar = 0, sse2 = 1, avx2 = 2 };

// gaussian_noise_row's computation with the Philox words made kIsa's way;
// the math loops are those of gaussian_noise_row (auto-vectorised).
template <class T, Isa kIsa>
inline void gaussian_noise_row(const T* flux, const T* sigma, std::int64_t sigma_step,
                               std::int64_t m, std::uint64_t seed, std::uint64_t index, T* noisy,
                               T* ivar) {
  constexpr std::int64_t kBlocks = 64;  // blocks per chunk: 256 pixels (a multiple of 32)
  alignas(32) std::uint32_t words[4 * kBlocks];
  alignas(32) T r2[2 * kBlocks], sn[2 * kBlocks], cs[2 * kBlocks], z[4 * kBlocks];
  const std::int64_t nblocks = (m + 3) / 4;
  // one sigma for the row: its ivar once
  const double sd0 = static_cast<double>(sigma[0]);
  const T iv0 = static_cast<T>(rmath::div(1.0, rmath::mul(sd0, sd0)));
  for (std::int64_t b0 = 0; b0 < nblocks; b0 += kBlocks) {
    const std::int64_t nb = nblocks - b0 < kBlocks ? nblocks - b0 : kBlocks;
    const std::uint32_t b = static_cast<std::uint32_t>(b0);
    bool have_z = false;
#if DEEPZ_X86_DISPATCH
    if constexpr (kIsa == Isa::avx2 && sizeof(T) == 4) {
      normals_f32_avx2(seed, b, nb, index, reinterpret_cast<float*>(z));
      have_z = true;
    } else if constexpr (kIsa == Isa::avx2) {
      philox_blocks_avx2(seed, b, nb, 0u, index, words);
    } else if constexpr (kIsa == Isa::sse2) {
      philox_blocks_sse2(seed, b, nb, 0u, index, words);
    } else {
      philox_blocks_scalar(seed, b, nb, 0u, index, words);
    }
#else
    philox_blocks_scalar(seed, b, nb, 0u, index, words);
#endif
    if (!have_z) {
      for (std::int64_t i = 0; i < 2 * nb; ++i) r2[i] = box_muller_r2(words[2 * i], T(0));
      for (std::int64_t i = 0; i < 2 * nb; ++i) box_muller_angle(words[2 * i + 1], &sn[i], &cs[i]);
      for (std::int64_t i = 0; i < 2 * nb; ++i) {
        const T r = rmath::sqrt(r2[i]);
        z[2 * i] = rmath::mul(r, cs[i]);
        z[2 * i + 1] = rmath::mul(r, sn[i]);
      }
    }
    const std::int64_t p0 = 4 * b0;
    const std::int64_t np = m - p0 < 4 * nb ? m - p0 : 4 * nb;
    if (sigma_step == 0) {
      const T s = sigma[0];
      for (std::int64_t i = 0; i < np; ++i) {
        const std::int64_t p = p0 + i;
        const T f = flux[p];
        const T y = rmath::add(f, rmath::mul(s, z[i]));
        const bool ok = rmath::finite(f);
        noisy[p] = rmath::select(ok, y, f);
        ivar[p] = rmath::select(ok, iv0, T(0));
      }
    } else {
      for (std::int64_t i = 0; i < np; ++i) {
        const std::int64_t p = p0 + i;
        const T f = flux[p];
        const T s = sigma[p];
        const double sd = static_cast<double>(s);
        const T iv = static_cast<T>(rmath::div(1.0, rmath::mul(sd, sd)));
        const T y = rmath::add(f, rmath::mul(s, z[i]));
        const bool ok = rmath::finite(f);
        noisy[p] = rmath::select(ok, y, f);
        ivar[p] = rmath::select(ok, iv, T(0));
      }
    }
  }
}

// add_noise_rows (add_noise.hpp) with the Gaussian rows above; Poisson rows as there.
template <class T, Isa kIsa>
inline void add_noise_rows(const T* flux, std::int64_t m, const T* sigma, std::int64_t sigma_rows,
                           std::int64_t sigma_cols, std::uint64_t seed, std::uint64_t offset,
                           NoiseKind kind, T* noisy, T* ivar, std::int64_t begin,
                           std::int64_t end) {
  const std::int64_t step = sigma_cols > 1 ? 1 : 0;
  for (std::int64_t i = begin; i < end; ++i) {
    const T* sig = sigma + (sigma_rows > 1 ? i * sigma_cols : 0);
    const std::uint64_t index = offset + static_cast<std::uint64_t>(i);
    if (kind == NoiseKind::gaussian) {
      gaussian_noise_row<T, kIsa>(flux + i * m, sig, step, m, seed, index, noisy + i * m,
                                  ivar + i * m);
    } else {
      poisson_noise_row(flux + i * m, sig, step, m, seed, index, noisy + i * m, ivar + i * m);
    }
  }
}

}  // namespace noise_simd
}  // namespace deepz
