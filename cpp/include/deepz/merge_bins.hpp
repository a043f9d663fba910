// deepz/merge_bins.hpp -- merge k adjacent pixels into one.
//
// Output pixel o of a spectrum covers input pixels ko .. ko + k - 1; the
// m % k trailing pixels that do not fill a group are dropped. A pixel is
// valid when its flux is finite and (if an ivar is given) its ivar > 0.
// Over the n_v valid pixels of a group (sums in double):
//   mean_v = sum f_i / n_v,      var(mean_v) = sum var_i / n_v^2,
//   how = sum:  f = sum f_i (n_v = k) or k mean_v (n_v < k), var = k^2 var(mean_v)
//   how = mean: f = mean_v,                                  var = var(mean_v)
// so a full group gives sum f_i, sum var_i (sum) or their k-th and k^2-th
// parts (mean), and a partly masked group the same estimate scaled up from
// its valid pixels. A group with no valid pixel gets NaN and ivar 0.
// ivar_out = 1 / var, except that a group with one valid pixel gets
// ivar_i / c^2 (c = k or 1), the same value without a double reciprocal, so
// that factor 1 gives the input back bit for bit.
#pragma once

#include <cstdint>
#include <cstring>

#include "grid.hpp"  // DEEPZ_HD

namespace deepz {

namespace merge_detail {
// Finite test without a branch (& rather than &&).
DEEPZ_HD bool finite(double x) {
  return (x >= -0x1.fffffffffffffp1023) & (x <= 0x1.fffffffffffffp1023);
}
DEEPZ_HD double quiet_nan() {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(0x7ff8000000000000ll);
#else
  const std::uint64_t u = 0x7ff8000000000000ull;
  double x;
  std::memcpy(&x, &u, sizeof x);
  return x;
#endif
}

// c ? a : b without a branch (GCC will not if-convert a floating-point ?:
// under -ftrapping-math, which would stop the loops below from vectorising).
DEEPZ_HD double select(bool c, double a, double b) {
#if defined(__CUDA_ARCH__)
  return c ? a : b;
#else
  std::uint64_t ua, ub;
  std::memcpy(&ua, &a, sizeof ua);
  std::memcpy(&ub, &b, sizeof ub);
  const std::uint64_t m = 0ull - static_cast<std::uint64_t>(c);
  const std::uint64_t u = (ua & m) | (ub & ~m);
  double x;
  std::memcpy(&x, &u, sizeof x);
  return x;
#endif
}
}  // namespace merge_detail

// The output pixel of one group from its accumulated valid pixels: `sum` of
// flux, `var` = sum of 1 / ivar, `count` = n_v, `w_one` = the ivar of the
// valid pixel when n_v == 1. Sets the output flux and ivar (in double).
DEEPZ_HD void merge_finish(double sum, double var, double count, double w_one, double k, bool mean,
                           double* flux_out, double* ivar_out) {
  using merge_detail::select;
  const double mean_v = sum / count;
  const double var_mean = var / (count * count);
  const bool full = count == k;
  const double c = mean ? 1.0 : k;
  const double fo = mean ? mean_v : select(full, sum, mean_v * k);
  const double vo = mean ? var_mean : select(full, var, var_mean * (k * k));
  const double iv = select(count == 1.0, w_one / (c * c), 1.0 / vo);
  const bool none = count == 0.0;
  *flux_out = select(none, merge_detail::quiet_nan(), fo);
  *ivar_out = select(none, 0.0, iv);
}

// One output pixel from its k input pixels (ivar may be null). The CUDA twin
// runs this per output pixel; merge_row below computes the same values.
template <class T>
DEEPZ_HD void merge_group(const T* flux, const T* ivar, std::int64_t k, bool mean, T* flux_out,
                          T* ivar_out) {
  double sum = 0.0, var = 0.0, count = 0.0, w_one = 0.0;
  for (std::int64_t i = 0; i < k; ++i) {
    const double fi = static_cast<double>(flux[i]);
    const double wi = ivar ? static_cast<double>(ivar[i]) : 1.0;
    if (merge_detail::finite(fi) && wi > 0.0) {
      sum += fi;
      var += 1.0 / wi;
      count += 1.0;
      w_one = wi;
    }
  }
  double fo, iv;
  merge_finish(sum, var, count, w_one, static_cast<double>(k), mean, &fo, &iv);
  *flux_out = static_cast<T>(fo);
  if (ivar_out) *ivar_out = static_cast<T>(iv);
}

// One spectrum: m_out = m / k groups; ivar and ivar_out may be null (then only
// non-finite flux is masked). Three passes over a chunk, each a simple loop
// the compiler vectorises: the per-pixel work (validity, conversion to
// double, 1 / ivar) over contiguous pixels; the sums of each group, its
// pixels added in order (kK > 0: k known at compile time); the output pixels.
// Adding the +0 of a masked pixel changes no sum (no sum is -0), so the
// result is merge_group's, bit for bit.
template <class T, bool kHasIvar, bool kMean, int kK>
void merge_row_staged(const T* flux, const T* ivar, std::int64_t m_out, std::int64_t k_run,
                      T* flux_out, T* ivar_out) {
  using merge_detail::select;
  constexpr std::int64_t kPixels = 1024;
  const std::int64_t k = kK > 0 ? kK : k_run;
  double vf[kPixels], vv[kPixels], vc[kPixels], vw[kPixels];
  double sum[kPixels], var[kPixels], count[kPixels], w_one[kPixels];
  const std::int64_t per_chunk = kPixels / k;  // groups per chunk (k <= kPixels)
  const double kd = static_cast<double>(k);
  for (std::int64_t o0 = 0; o0 < m_out; o0 += per_chunk) {
    const std::int64_t no = m_out - o0 < per_chunk ? m_out - o0 : per_chunk;
    const std::int64_t np = no * k;
    const T* f = flux + o0 * k;
    const T* w = kHasIvar ? ivar + o0 * k : nullptr;
    for (std::int64_t p = 0; p < np; ++p) {
      const double fi = static_cast<double>(f[p]);
      const double wi = kHasIvar ? static_cast<double>(w[p]) : 1.0;
      const bool ok = merge_detail::finite(fi) & (wi > 0.0);
      vf[p] = select(ok, fi, 0.0);
      vv[p] = select(ok, 1.0 / wi, 0.0);
      vc[p] = select(ok, 1.0, 0.0);
      vw[p] = select(ok, wi, 0.0);
    }
    for (std::int64_t o = 0; o < no; ++o) {
      double s = 0.0, v = 0.0, c = 0.0, w1 = 0.0;
      for (std::int64_t i = 0; i < k; ++i) {
        const std::int64_t p = o * k + i;
        s += vf[p];
        v += vv[p];
        c += vc[p];
        w1 += vw[p];  // the ivar of the valid pixel when there is one (else unused)
      }
      sum[o] = s;
      var[o] = v;
      count[o] = c;
      w_one[o] = w1;
    }
    for (std::int64_t o = 0; o < no; ++o) {
      double fo, iv;
      merge_finish(sum[o], var[o], count[o], w_one[o], kd, kMean, &fo, &iv);
      flux_out[o0 + o] = static_cast<T>(fo);
      if constexpr (kHasIvar) ivar_out[o0 + o] = static_cast<T>(iv);
    }
  }
}

// The block fast path. Most groups have all their pixels valid, where
// merge_finish reduces to count == k: sum -> (sum, var), mean -> (sum / k,
// var / k^2), ivar = 1 / var (ivar_i itself when k == 1). A block of groups
// is first checked in one branch-free pass (all flux finite, all ivar > 0,
// and whether all ivar are equal); a clean block then takes these formulas
// in a loop the compiler vectorises, with the same operations in the same
// order (0 + f_0 + f_1 + ..., 0 + 1/w_0 + 1/w_1 + ...) as merge_group, so
// the same bits; with one ivar value across the block, 1 / var is the same
// for every group and is computed once. A block with any masked pixel goes
// through merge_row_staged. x / k for a power of two k is x * (1 / k): the
// same real number, rounded once either way.
namespace merge_detail {
template <class T>
inline bool finite_t(T x) {
  const T big =
      sizeof(T) == 4 ? static_cast<T>(0x1.fffffep127f) : static_cast<T>(0x1.fffffffffffffp1023);
  return (x >= -big) & (x <= big);
}
constexpr bool power_of_two(int k) {
  return k > 0 && (k & (k - 1)) == 0;
}
}  // namespace merge_detail

// Merge one spectrum; returns the first pixel whose ivar is < 0 (-1 if none):
// such a pixel is masked like ivar 0 here, and the caller refuses the input.
template <class T, bool kHasIvar, bool kMean, int kK>
std::int64_t merge_row_blocks(const T* flux, const T* ivar, std::int64_t m_out, std::int64_t k_run,
                              T* flux_out, T* ivar_out) {
  using merge_detail::finite_t;
  constexpr std::int64_t kPixels = 512;
  const std::int64_t k = kK > 0 ? kK : k_run;
  const std::int64_t per_block = kPixels / k > 0 ? kPixels / k : 1;
  const double kd = static_cast<double>(k);
  constexpr bool kPow2 = merge_detail::power_of_two(kK);
  const double rk = 1.0 / kd, rk2 = 1.0 / (kd * kd);  // exact when kPow2
  std::int64_t bad = -1;
  for (std::int64_t o0 = 0; o0 < m_out; o0 += per_block) {
    const std::int64_t no = m_out - o0 < per_block ? m_out - o0 : per_block;
    const std::int64_t np = no * k;
    const T* f = flux + o0 * k;
    const T* w = kHasIvar ? ivar + o0 * k : nullptr;
    T* fo = flux_out + o0;
    T* wo = kHasIvar ? ivar_out + o0 : nullptr;
    // 1. the checks, as integer or-reductions
    unsigned invalid = 0, uneven = 0;
    if constexpr (kHasIvar) {
      const T w0 = w[0];
      for (std::int64_t p = 0; p < np; ++p) {
        invalid |= static_cast<unsigned>(!(finite_t(f[p]) & (w[p] > T(0))));
        uneven |= static_cast<unsigned>(w[p] != w0);
      }
    } else {
      for (std::int64_t p = 0; p < np; ++p) invalid |= static_cast<unsigned>(!finite_t(f[p]));
    }
    if (invalid) {  // 2a. masked pixels: the general sweep
      if constexpr (kHasIvar) {
        for (std::int64_t p = 0; p < np; ++p) {
          if (w[p] < T(0) && bad < 0) bad = o0 * k + p;
        }
      }
      merge_row_staged<T, kHasIvar, kMean, kK>(f, w, no, k, fo, wo);
      continue;
    }
    // 2b. every pixel valid: count == k
    for (std::int64_t o = 0; o < no; ++o) {
      double s = 0.0;
      for (std::int64_t i = 0; i < k; ++i) s += static_cast<double>(f[o * k + i]);
      if constexpr (kMean) s = kPow2 ? s * rk : s / kd;
      fo[o] = static_cast<T>(s);
    }
    if constexpr (kHasIvar) {
      if (k == 1) {  // w_one / (c * c) with c = 1: ivar_i itself
        for (std::int64_t o = 0; o < no; ++o) wo[o] = w[o];
      } else if (!uneven) {
        const double r = 1.0 / static_cast<double>(w[0]);
        double v = 0.0;
        for (std::int64_t i = 0; i < k; ++i) v += r;
        if constexpr (kMean) v = kPow2 ? v * rk2 : v / (kd * kd);
        const T iv = static_cast<T>(1.0 / v);
        for (std::int64_t o = 0; o < no; ++o) wo[o] = iv;
      } else {
        for (std::int64_t o = 0; o < no; ++o) {
          double v = 0.0;
          for (std::int64_t i = 0; i < k; ++i) v += 1.0 / static_cast<double>(w[o * k + i]);
          if constexpr (kMean) v = kPow2 ? v * rk2 : v / (kd * kd);
          wo[o] = static_cast<T>(1.0 / v);
        }
      }
    }
  }
  return bad;
}

template <class T, bool kHasIvar, bool kMean>
std::int64_t merge_row_k(const T* flux, const T* ivar, std::int64_t m_out, std::int64_t k,
                         T* flux_out, T* ivar_out) {
  switch (k) {
    case 1:
      return merge_row_blocks<T, kHasIvar, kMean, 1>(flux, ivar, m_out, k, flux_out, ivar_out);
    case 2:
      return merge_row_blocks<T, kHasIvar, kMean, 2>(flux, ivar, m_out, k, flux_out, ivar_out);
    case 3:
      return merge_row_blocks<T, kHasIvar, kMean, 3>(flux, ivar, m_out, k, flux_out, ivar_out);
    case 4:
      return merge_row_blocks<T, kHasIvar, kMean, 4>(flux, ivar, m_out, k, flux_out, ivar_out);
    case 8:
      return merge_row_blocks<T, kHasIvar, kMean, 8>(flux, ivar, m_out, k, flux_out, ivar_out);
    default:
      return merge_row_blocks<T, kHasIvar, kMean, 0>(flux, ivar, m_out, k, flux_out, ivar_out);
  }
}

// One spectrum; returns the first pixel with ivar < 0, or -1.
template <class T>
std::int64_t merge_row(const T* flux, const T* ivar, std::int64_t m_out, std::int64_t k, bool mean,
                       T* flux_out, T* ivar_out) {
  if (k > 256) {  // long groups: one at a time
    std::int64_t bad = -1;
    for (std::int64_t o = 0; o < m_out; ++o) {
      merge_group(flux + o * k, ivar ? ivar + o * k : nullptr, k, mean, flux_out + o,
                  ivar_out ? ivar_out + o : nullptr);
    }
    if (ivar) {
      for (std::int64_t p = 0; p < m_out * k && bad < 0; ++p) {
        if (ivar[p] < T(0)) bad = p;
      }
    }
    return bad;
  } else if (ivar) {
    if (mean) return merge_row_k<T, true, true>(flux, ivar, m_out, k, flux_out, ivar_out);
    return merge_row_k<T, true, false>(flux, ivar, m_out, k, flux_out, ivar_out);
  } else {
    if (mean) return merge_row_k<T, false, true>(flux, nullptr, m_out, k, flux_out, nullptr);
    return merge_row_k<T, false, false>(flux, nullptr, m_out, k, flux_out, nullptr);
  }
}

// Spectra [begin, end) of an (n, m) batch; outputs are (n, m / k). Returns the
// first flat index (i * m + p) of a pixel with ivar < 0 (kept or dropped), or -1.
template <class T>
std::int64_t merge_rows(const T* flux, const T* ivar, std::int64_t m, std::int64_t k, bool mean,
                        T* flux_out, T* ivar_out, std::int64_t begin, std::int64_t end) {
  const std::int64_t m_out = m / k;
  std::int64_t bad = -1;
  for (std::int64_t i = begin; i < end; ++i) {
    const std::int64_t b =
        merge_row(flux + i * m, ivar ? ivar + i * m : nullptr, m_out, k, mean, flux_out + i * m_out,
                  ivar_out ? ivar_out + i * m_out : nullptr);
    if (b >= 0 && bad < 0) bad = i * m + b;
    if (ivar && bad < 0) {  // the dropped pixels are checked too
      for (std::int64_t p = m_out * k; p < m; ++p) {
        if (ivar[i * m + p] < T(0)) {
          bad = i * m + p;
          break;
        }
      }
    }
  }
  return bad;
}

}  // namespace deepz
