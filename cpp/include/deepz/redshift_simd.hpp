// deepz/redshift_simd.hpp -- the window sweep of redshift.hpp on 4 observed
// bins at once (AVX2, CPU only: never include this from CUDA code).
#pragma once

#if defined(__CUDACC__)
#error "deepz/redshift_simd.hpp is CPU-only"
#endif

#include <cstdint>

#include "deepz/cpu.hpp"
#include "deepz/redshift.hpp"

#if DEEPZ_X86_DISPATCH
#include <immintrin.h>
#endif

namespace deepz {
namespace redshift_simd {

#if DEEPZ_X86_DISPATCH
#define DEEPZ_AVX2 __attribute__((target("avx2"))) inline

namespace avx2 {
// 4 template values t[b0 + i + k_lane] as doubles (idx: the lane offsets k as
// vpermps indices 2k, 2k + 1; k32: the same offsets as int32).
template <class T>
DEEPZ_AVX2 __m256d load_t(const T* t, __m256i idx, __m128i k32);
template <>
DEEPZ_AVX2 __m256d load_t<float>(const float* t, __m256i /*idx*/, __m128i k32) {
  return _mm256_cvtps_pd(_mm_permutevar_ps(_mm_loadu_ps(t), k32));
}
template <>
DEEPZ_AVX2 __m256d load_t<double>(const double* t, __m256i idx, __m128i /*k32*/) {
  return _mm256_castps_pd(_mm256_permutevar8x32_ps(_mm256_castpd_ps(_mm256_loadu_pd(t)), idx));
}
DEEPZ_AVX2 __m256d load_e(const double* e, __m256i idx) {
  return _mm256_castps_pd(_mm256_permutevar8x32_ps(_mm256_castpd_ps(_mm256_loadu_pd(e)), idx));
}
template <class T>
DEEPZ_AVX2 void store_out(T* out, __m256d v);
template <>
DEEPZ_AVX2 void store_out<float>(float* out, __m256d v) {
  _mm_storeu_ps(out, _mm256_cvtpd_ps(v));
}
template <>
DEEPZ_AVX2 void store_out<double>(double* out, __m256d v) {
  _mm256_storeu_pd(out, v);
}
}  // namespace avx2

// Observed bins [ja, jb) of window_bins, 4 at a time; returns the bin where it
// stopped (the caller finishes the < 4 left) and clears *holds if a window
// misses an overlap. The 4 bins' windows start at b0 <= b_lane <= b0 + 3
// (b grows with the bin; wherever it grows faster, or the rest grid ends
// within reach, those 4 bins take the scalar window_bins), so each
// er[b_lane + i] and t[b_lane + i] comes from one 4-wide load at b0 + i and a
// lane permutation (vpermps), not a gather. Per lane the operations are
// add_pixel_nb's: min_pd / max_pd are a < b ? a : b / a > b ? a : b, as
// dmin / dmax; a mask and-ed with a value is select(ok, value, +0).
template <class T, int kL, bool kNanFree>
DEEPZ_AVX2 std::int64_t window_bins_avx2(const T* t, const double* er, std::int64_t r,
                                         const double* eo, std::int64_t ja, std::int64_t jb,
                                         double inv, double factor, double fill, double rdr,
                                         double delta, T* out, bool* holds) {
  const __m256d vinv = _mm256_set1_pd(inv), ver0 = _mm256_set1_pd(er[0]);
  const __m256d vrdr = _mm256_set1_pd(rdr), vdelta = _mm256_set1_pd(delta);
  const __m256d zero = _mm256_setzero_pd(), vbmax = _mm256_set1_pd(static_cast<double>(r - kL));
  const __m256d vfactor = _mm256_set1_pd(factor), vfill = _mm256_set1_pd(fill);
  const std::int64_t b_last = r - kL - 3;  // the 4-wide loads stay inside er and t
  __m256d ok_all = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
  bool scalar_ok = true;
  // Two passes over chunks of bins: the window starts first (a short loop),
  // then the sums, whose loads then wait on a load, not on the long chain
  // that computes b (latency the out-of-order window could not hide).
  constexpr std::int64_t kChunk = 256;
  alignas(16) std::int32_t bs[kChunk];
  std::int64_t j = ja;
  while (j + 4 <= jb) {
    const std::int64_t nc = (jb - j) / 4 * 4 < kChunk ? (jb - j) / 4 * 4 : kChunk;
    for (std::int64_t c = 0; c < nc; c += 4) {
      const __m256d lo = _mm256_mul_pd(_mm256_loadu_pd(eo + j + c), vinv);
      const __m256d y = _mm256_min_pd(
          _mm256_max_pd(_mm256_sub_pd(_mm256_mul_pd(_mm256_sub_pd(lo, ver0), vrdr), vdelta), zero),
          vbmax);
      _mm_store_si128(reinterpret_cast<__m128i*>(bs + c), _mm256_cvttpd_epi32(y));
    }
    for (std::int64_t c = 0; c < nc; c += 4, j += 4) {
      const __m128i b = _mm_load_si128(reinterpret_cast<const __m128i*>(bs + c));
      const int b0 = bs[c];
      const __m128i k32 = _mm_sub_epi32(b, _mm_set1_epi32(b0));
      if (bs[c + 3] - b0 > 3 || b0 > b_last) {
        scalar_ok &= window_bins<T, kL>(t, er, r, eo, j, j + 4, inv, factor, fill, rdr, delta, out);
        continue;
      }
      const __m256d lo = _mm256_mul_pd(_mm256_loadu_pd(eo + j), vinv);
      const __m256d hi = _mm256_mul_pd(_mm256_loadu_pd(eo + j + 1), vinv);
      const __m256i k64 = _mm256_slli_epi64(_mm256_cvtepu32_epi64(k32), 1);  // 2k
      const __m256i idx =
          _mm256_or_si256(k64, _mm256_slli_epi64(_mm256_add_epi64(k64, _mm256_set1_epi64x(1)), 32));
      __m256d e[kL + 1];
      for (int i = 0; i <= kL; ++i) e[i] = avx2::load_e(er + b0 + i, idx);
      __m256d wsum = zero, acc = zero, tref = zero, have = zero;
      for (int i = 0; i < kL; ++i) {
        const __m256d tv = avx2::load_t<T>(t + b0 + i, idx, k32);
        const __m256d ov = _mm256_max_pd(
            _mm256_sub_pd(_mm256_min_pd(hi, e[i + 1]), _mm256_max_pd(lo, e[i])), zero);
        // without NaN, ok = ov != 0 and w = ov (ov is +0 where it is 0)
        const __m256d ok = kNanFree ? _mm256_cmp_pd(ov, zero, _CMP_NEQ_UQ)
                                    : _mm256_and_pd(_mm256_cmp_pd(ov, zero, _CMP_NEQ_UQ),
                                                    _mm256_cmp_pd(tv, tv, _CMP_EQ_OQ));
        const __m256d w = kNanFree ? ov : _mm256_and_pd(ok, ov);
        const __m256d v = _mm256_and_pd(ok, tv);
        tref = _mm256_blendv_pd(v, tref, have);
        have = _mm256_or_pd(have, ok);
        acc = _mm256_add_pd(acc, _mm256_mul_pd(w, _mm256_sub_pd(v, tref)));
        wsum = _mm256_add_pd(wsum, w);
      }
      ok_all = _mm256_and_pd(ok_all, _mm256_and_pd(_mm256_cmp_pd(e[0], lo, _CMP_LE_OQ),
                                                   _mm256_cmp_pd(e[kL], hi, _CMP_GE_OQ)));
      const __m256d val = _mm256_mul_pd(_mm256_add_pd(tref, _mm256_div_pd(acc, wsum)), vfactor);
      avx2::store_out<T>(out + j,
                         _mm256_blendv_pd(val, vfill, _mm256_cmp_pd(wsum, zero, _CMP_EQ_OQ)));
    }
  }
  if (_mm256_movemask_pd(ok_all) != 0xf || !scalar_ok) *holds = false;
  return j;
}

// redshift_one_window with the AVX2 bins, then the scalar ones for the < 4 left.
template <class T, int kL, bool kNanFree>
DEEPZ_AVX2 bool redshift_one_window_avx2(const T* t, const double* er, std::int64_t r,
                                         const double* eo, std::int64_t p, double opz, int mode,
                                         double fill, double rdr, double delta, T* out) {
  double inv, factor;
  std::int64_t j0, j1;
  redshift_prologue(er, r, eo, p, opz, mode, fill, out, &inv, &factor, &j0, &j1);
  if (j0 >= j1) return true;
  bool holds = true;
  const std::int64_t j = window_bins_avx2<T, kL, kNanFree>(t, er, r, eo, j0, j1, inv, factor, fill,
                                                           rdr, delta, out, &holds);
  holds &= window_bins<T, kL>(t, er, r, eo, j, j1, inv, factor, fill, rdr, delta, out);
  return holds;
}

// The window functor of redshift_rows, AVX2 flavour (same results as ScalarWindow).
struct Avx2Window {
  template <class T, bool kNanFree>
  DEEPZ_AVX2 bool run(int l, const T* t, const double* er, std::int64_t r, const double* eo,
                      std::int64_t p, double opz, int mode, double fill, double rdr, double delta,
                      T* out) const {
    switch (l) {
      case 2:
        return redshift_one_window_avx2<T, 2, kNanFree>(t, er, r, eo, p, opz, mode, fill, rdr,
                                                        delta, out);
      case 3:
        return redshift_one_window_avx2<T, 3, kNanFree>(t, er, r, eo, p, opz, mode, fill, rdr,
                                                        delta, out);
      case 4:
        return redshift_one_window_avx2<T, 4, kNanFree>(t, er, r, eo, p, opz, mode, fill, rdr,
                                                        delta, out);
      default:
        return false;
    }
  }
  template <class T>
  DEEPZ_AVX2 bool operator()(int l, bool nan_free, const T* t, const double* er, std::int64_t r,
                             const double* eo, std::int64_t p, double opz, int mode, double fill,
                             double rdr, double delta, T* out) const {
    if (nan_free) return run<T, true>(l, t, er, r, eo, p, opz, mode, fill, rdr, delta, out);
    return run<T, false>(l, t, er, r, eo, p, opz, mode, fill, rdr, delta, out);
  }
};
#endif  // DEEPZ_X86_DISPATCH

}  // namespace redshift_simd
}  // namespace deepz
