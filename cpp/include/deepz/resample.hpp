// deepz/resample.hpp -- resample spectra onto a new wavelength grid.
//
// Both methods are one sparse linear map from input pixels to output pixels,
// stored in CSR form (ResampleWeights):
//   out[j] <- sum_q u[off[j] + q] * x[first[j] + q],   q in [0, off[j+1] - off[j])
// so the input pixels of an output pixel are contiguous. The weights of one
// output pixel are normalised to sum 1 (tot[j], up to rounding). An output
// pixel with no entries (not covered by the input grid) gets `fill`.
//
//  - "flux" (flux-conserving, SpectRes semantics): u = overlap width of input
//    bin i with output bin j / summed overlaps of bin j. An output bin is
//    covered when both its edges lie inside the outer edges of the input grid
//    (edges may coincide, and may stick out by a rounding-level 1e-9 of the
//    output bin's width: grids built the same way in different arithmetic
//    still line up; such an edge is clamped to the input's edge).
//  - "linear": the two bracketing pixels with weights (1 - t, t); an output
//    point is covered when it lies in [w[0], w[M-1]]. Zero weights are not
//    stored, so a point exactly on an input pixel uses that pixel alone.
//
// Building the map is a two-pointer sweep over the two grids, O(M + P), with
// no search per output pixel. Applying it is O(M + P) per spectrum, in three
// steps over chunks of output pixels (so the scratch stays in L1/L2):
//   resample_prepare:    masks folded into per-pixel arrays, no branches:
//                        vf = valid ? f : 0, v = valid ? 1 : 0,
//                        var = valid ? 1/ivar : 0,
//   resample_accumulate: num = sum u vf, den = sum u v, err = sum u^2 var,
//   resample_finish:     f_out = num * (1 / den), ivar_out = den^2 / err
// (SpectRes error propagation: sigma_out = sqrt(sum (w sigma)^2) / sum w,
// with w the weights of the valid pixels; normalising w does not change it).
// An output pixel whose inputs are all masked (den == 0) gets fill and ivar
// 0; in strict mode (used by "linear") so does one with any masked input of
// nonzero weight. A chunk without masked pixels takes a shortcut (den is
// then tot[j] exactly, and 1/den = rtot[j] is precomputed) that gives the
// same bits as the general path, so results never depend on how spectra are
// grouped or threaded.
//
// Exactness: a lone input weight is exactly 1, so identity grids return the
// input bit for bit; tot is within a few ulp of 1, where tot * (1 / tot) is
// exactly 1, so a flat spectrum of 1 (or any power of two) rebins to exactly
// that value (other constants to a few ulp).
//
// At the end of this file, a CPU fast path runs the same steps for 4 spectra
// that share one map (deepz::lanes), with the same results.
//
// Everything accumulates in double. The functions take caller-owned scratch
// pointers and do not allocate, so the CUDA build can reuse them.
#pragma once

#include <cstdint>
#include <cstring>

#include "deepz/grid.hpp"

namespace deepz {

// CSR weights of one (input grid, output grid) pair; the caller owns the
// storage: off P + 1, first P, tot P, rtot P, u and u2 resample_capacity().
struct ResampleWeights {
  std::int64_t* off;    // offsets into u / u2 of each output pixel, off[P] = entries
  std::int64_t* first;  // first input pixel of output pixel j (0 when uncovered)
  double* u;            // normalised weights
  double* u2;           // u * u: the weights of the variances
  double* tot;          // sum of the weights of output pixel j (0 when uncovered)
  double* rtot;         // 1 / tot (0 when uncovered)
};

// Upper bound on the number of (input, output) pairs for either method:
// the flux sweep makes at most M + P - 1 overlaps, "linear" at most 2 P.
DEEPZ_HD std::int64_t resample_capacity(std::int64_t m, std::int64_t p) {
  return m + 2 * p;
}

// Normalise the entries [k0, k) of output pixel j (k - k0 >= 2, summing to
// total) to sum 1; fill u2, tot and rtot. (1 / 1 is 1: the shortcut for the
// common sum of exactly 1 gives the same bits.)
DEEPZ_HD void resample_normalise_(ResampleWeights wt, std::int64_t j, std::int64_t k0,
                                  std::int64_t k, double total) {
  const double r = 1.0 / total;
  double sum = 0.0;
  for (std::int64_t q = k0; q < k; ++q) {
    const double u = wt.u[q] * r;
    wt.u[q] = u;
    wt.u2[q] = u * u;
    sum += u;
  }
  wt.tot[j] = sum;
  wt.rtot[j] = sum == 1.0 ? 1.0 : 1.0 / sum;
}

// Flux-conserving weights from input bin edges ein[0..m] and output bin
// edges eout[0..p] (both strictly increasing). Returns the number of entries.
DEEPZ_HD std::int64_t resample_build_flux(const double* ein, std::int64_t m, const double* eout,
                                          std::int64_t p, ResampleWeights wt) {
  std::int64_t k = 0, i = 0;
  const double lo_edge = ein[0], hi_edge = ein[m];
  for (std::int64_t j = 0; j < p; ++j) {
    wt.off[j] = k;
    double lo = eout[j], hi = eout[j + 1];
    const double tol = 1e-9 * (hi - lo);
    if (lo < lo_edge - tol || hi > hi_edge + tol) {  // not fully covered: fill
      wt.first[j] = 0;
      wt.tot[j] = 0.0;
      wt.rtot[j] = 0.0;
      continue;
    }
    lo = lo < lo_edge ? lo_edge : lo;
    hi = hi > hi_edge ? hi_edge : hi;
    // First input bin whose upper edge passes lo by more than tol; exists
    // since lo + tol < hi <= ein[m]. Overlaps of tol or less are rounding
    // slivers of bins that merely touch this one: they are left out, so a
    // masked pixel is never "filled" by a neighbour through a 1e-13 A sliver.
    while (ein[i + 1] <= lo + tol) ++i;
    wt.first[j] = i;
    const std::int64_t k0 = k;
    double total = 0.0;
    std::int64_t q = i;
    do {  // the overlaps, > 0: here ein[q] < hi and ein[q + 1] > lo
      const double a = ein[q] > lo ? ein[q] : lo;
      const double b = ein[q + 1] < hi ? ein[q + 1] : hi;
      wt.u[k++] = b - a;
      total += b - a;
      ++q;
    } while (ein[q] < hi - tol);
    if (k - k0 == 1) {  // one input alone: weight exactly 1, identity grids are exact
      wt.u[k0] = wt.u2[k0] = wt.tot[j] = wt.rtot[j] = 1.0;
    } else {
      resample_normalise_(wt, j, k0, k, total);
    }
  }
  wt.off[p] = k;
  return k;
}

// Linear-interpolation weights from input centres win[0..m-1] (m >= 2) to
// output points xout[0..p-1] (both strictly increasing).
DEEPZ_HD std::int64_t resample_build_linear(const double* win, std::int64_t m, const double* xout,
                                            std::int64_t p, ResampleWeights wt) {
  std::int64_t k = 0, i = 0;
  for (std::int64_t j = 0; j < p; ++j) {
    wt.off[j] = k;
    wt.first[j] = 0;
    wt.tot[j] = 0.0;
    wt.rtot[j] = 0.0;
    const double x = xout[j];
    if (x < win[0] || x > win[m - 1]) continue;  // outside the input: fill
    while (i < m - 2 && win[i + 1] < x) ++i;     // now win[i] <= x <= win[i + 1]
    const double t = (x - win[i]) / (win[i + 1] - win[i]);
    const double s = 1.0 - t;
    wt.first[j] = s > 0.0 ? i : i + 1;
    double sum = 0.0;
    if (s > 0.0) {
      wt.u[k] = s;
      wt.u2[k] = s * s;
      sum += s;
      ++k;
    }
    if (t > 0.0) {
      wt.u[k] = t;
      wt.u2[k] = t * t;
      sum += t;
      ++k;
    }
    wt.tot[j] = sum;
    wt.rtot[j] = sum == 1.0 ? 1.0 : 1.0 / sum;
  }
  wt.off[p] = k;
  return k;
}

// Chunks of output pixels, processed one after the other so that the
// prepared pixels of a chunk stay in L1/L2: chunk c holds output pixels
// [start[c], start[c + 1]) and reads input pixels [lo[c], hi[c]) (empty,
// lo == hi, when its pixels are not covered). Capacity: start p + 1, lo and
// hi p each.
struct ResampleChunks {
  std::int64_t* start;
  std::int64_t* lo;
  std::int64_t* hi;
};

// Split the p output pixels into chunks of at most max_out pixels reading at
// most max_span input pixels (a chunk holds at least one output pixel, so a
// wider one may read more), each all covered or all uncovered. Returns the
// number of chunks; *widest gets the most input pixels a chunk reads.
DEEPZ_HD std::int64_t resample_chunks(const ResampleWeights& wt, std::int64_t p,
                                      std::int64_t max_out, std::int64_t max_span,
                                      ResampleChunks ch, std::int64_t* widest) {
  std::int64_t count = 0, j = 0, most = 0;
  while (j < p) {
    const bool covered = wt.off[j + 1] > wt.off[j];
    // Covered pixels read contiguous, nondecreasing ranges of input pixels.
    const std::int64_t lo = covered ? wt.first[j] : 0;
    std::int64_t hi = lo, jj = j;
    for (; jj < p && jj - j < max_out; ++jj) {
      const std::int64_t n = wt.off[jj + 1] - wt.off[jj];
      if ((n > 0) != covered) break;
      const std::int64_t end = covered ? wt.first[jj] + n : lo;
      if (jj > j && end - lo > max_span) break;
      hi = end > hi ? end : hi;
    }
    ch.start[count] = j;
    ch.lo[count] = lo;
    ch.hi[count] = hi;
    most = hi - lo > most ? hi - lo : most;
    ++count;
    j = jj;
  }
  ch.start[count] = p;
  *widest = most;
  return count;
}

// Fold the masks of input pixels [a, b) of one spectrum into per-pixel
// arrays x[i - a]: vf = valid ? f : 0, v = valid ? 1 : 0, var = valid ?
// 1/ivar : 0 (var only with ivar). A pixel is valid when its flux is finite
// and, with ivar, 0 < ivar < inf. Written without branches or conditional
// arithmetic so that compilers vectorise it (1 / ivar is computed for every
// pixel and selected afterwards). Returns true when every pixel is valid.
template <class T>
DEEPZ_HD bool resample_prepare(const T* __restrict flux, const T* __restrict ivar, std::int64_t a,
                               std::int64_t b, double* __restrict vf, double* __restrict v,
                               double* __restrict var) {
  const std::int64_t n = b - a;
  flux += a;
  if (ivar == nullptr) {
    for (std::int64_t i = 0; i < n; ++i) {
      const double f = static_cast<double>(flux[i]);
      const bool ok = f - f == 0.0;  // false for NaN and +-inf
      vf[i] = ok ? f : 0.0;
      v[i] = ok ? 1.0 : 0.0;
    }
  } else {
    ivar += a;
    for (std::int64_t i = 0; i < n; ++i) {
      const double f = static_cast<double>(flux[i]);
      const double r = 1.0 / static_cast<double>(ivar[i]);  // inf, NaN or <= 0 when masked
      const double finite = (f - f) + (r - r) == 0.0 ? 1.0 : 0.0;
      const double ok = r > 0.0 ? finite : 0.0;
      vf[i] = ok != 0.0 ? f : 0.0;
      v[i] = ok;
      var[i] = ok != 0.0 ? r : 0.0;
    }
  }
  // All valid <=> every v is exactly 1.0: an OR of bit differences vectorises.
  std::uint64_t diff = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    std::uint64_t bits;
    std::memcpy(&bits, v + i, sizeof bits);
    diff |= bits ^ 0x3FF0000000000000ull;  // the bits of 1.0
  }
  return diff == 0;
}

// Sums of the output pixels [j0, j1) of one spectrum whose prepared pixel 0
// is input pixel a, written to num[j - j0] etc.: num = sum u vf,
// den = sum u v, err = sum u^2 var. kAllValid: den is not needed (it is tot).
template <bool kIvar, bool kAllValid>
DEEPZ_HD void resample_accumulate(const ResampleWeights& wt, std::int64_t j0, std::int64_t j1,
                                  std::int64_t a, const double* __restrict vf,
                                  const double* __restrict v, const double* __restrict var,
                                  double* __restrict num, double* __restrict den,
                                  double* __restrict err) {
  for (std::int64_t j = j0; j < j1; ++j) {
    const std::int64_t k0 = wt.off[j], n = wt.off[j + 1] - k0;
    const double* __restrict u = wt.u + k0;
    const double* __restrict u2 = wt.u2 + k0;
    const std::int64_t x = wt.first[j] - a;
    double sn = 0.0, sd = 0.0, se = 0.0;
    // Output pixels mostly read 1 to 3 inputs: spelt out, these run faster
    // than a loop that the compiler vectorises for long counts (same sums).
    std::int64_t q = 0;
    if (n <= 3) {
      for (; q < 3; ++q) {
        if (q == n) break;
        sn += u[q] * vf[x + q];
        if (!kAllValid) sd += u[q] * v[x + q];
        if (kIvar) se += u2[q] * var[x + q];
      }
    } else {
      for (; q < n; ++q) {
        sn += u[q] * vf[x + q];
        if (!kAllValid) sd += u[q] * v[x + q];
        if (kIvar) se += u2[q] * var[x + q];
      }
    }
    num[j - j0] = sn;
    if (!kAllValid) den[j - j0] = sd;
    if (kIvar) err[j - j0] = se;
  }
}

// Output pixels [j0, j1) of one spectrum from its sums (den is tot when
// kAllValid): f = num * (1 / den), ivar = den * den / err; with kAllValid
// 1 / den is the precomputed rtot, the same bits. A first pass computes every
// pixel without branches (vectorised; a masked pixel yields NaN or inf), a
// second puts fill and ivar 0 where den == 0 or, with kStrict, where
// den != tot (a masked input of nonzero weight). kAllValid chunks are all
// covered (tot > 0) and need no second pass.
template <class T, bool kIvar, bool kStrict, bool kAllValid>
DEEPZ_HD void resample_finish(const ResampleWeights& wt, std::int64_t j0, std::int64_t j1,
                              const double* __restrict num, const double* __restrict den,
                              const double* __restrict err, T fill, T* __restrict out,
                              T* __restrict out_ivar) {
  const double* __restrict tot = wt.tot + j0;
  const double* __restrict rtot = wt.rtot + j0;
  const double* __restrict d = kAllValid ? tot : den;
  const std::int64_t nj = j1 - j0;
  for (std::int64_t q = 0; q < nj; ++q) {
    const double r = kAllValid ? rtot[q] : 1.0 / d[q];
    out[q] = static_cast<T>(num[q] * r);
    if (kIvar) out_ivar[q] = static_cast<T>(d[q] * d[q] / err[q]);
  }
  if (kAllValid) return;
  for (std::int64_t q = 0; q < nj; ++q) {
    const bool ok = kStrict ? d[q] > 0.0 && d[q] == tot[q] : d[q] > 0.0;
    if (!ok) {
      out[q] = fill;
      if (kIvar) out_ivar[q] = T(0);
    }
  }
}

// Scratch of resample_spectrum: vf, v, var of `widest` doubles each (from
// resample_chunks), num, den, err of max_out doubles each.
struct ResampleScratch {
  double *vf, *v, *var, *num, *den, *err;
};

// Resample one spectrum (flux, and ivar or null) with the weight map wt,
// chunk by chunk, into out (p pixels) and out_ivar (when ivar is given).
template <class T, bool kStrict>
DEEPZ_HD void resample_spectrum(const ResampleWeights& wt, const ResampleChunks& ch,
                                std::int64_t nchunks, const T* flux, const T* ivar, T fill, T* out,
                                T* out_ivar, ResampleScratch s) {
  for (std::int64_t c = 0; c < nchunks; ++c) {
    const std::int64_t j0 = ch.start[c], j1 = ch.start[c + 1], a = ch.lo[c], b = ch.hi[c];
    if (a == b) {  // not covered
      for (std::int64_t j = j0; j < j1; ++j) {
        out[j] = fill;
        if (ivar != nullptr) out_ivar[j] = T(0);
      }
      continue;
    }
    const bool all_valid = resample_prepare<T>(flux, ivar, a, b, s.vf, s.v, s.var);
    T* o = out + j0;
    T* oi = ivar != nullptr ? out_ivar + j0 : nullptr;
    if (ivar != nullptr) {
      if (all_valid) {
        resample_accumulate<true, true>(wt, j0, j1, a, s.vf, s.v, s.var, s.num, s.den, s.err);
        resample_finish<T, true, kStrict, true>(wt, j0, j1, s.num, s.den, s.err, fill, o, oi);
      } else {
        resample_accumulate<true, false>(wt, j0, j1, a, s.vf, s.v, s.var, s.num, s.den, s.err);
        resample_finish<T, true, kStrict, false>(wt, j0, j1, s.num, s.den, s.err, fill, o, oi);
      }
    } else {
      if (all_valid) {
        resample_accumulate<false, true>(wt, j0, j1, a, s.vf, s.v, s.var, s.num, s.den, s.err);
        resample_finish<T, false, kStrict, true>(wt, j0, j1, s.num, s.den, s.err, fill, o, oi);
      } else {
        resample_accumulate<false, false>(wt, j0, j1, a, s.vf, s.v, s.var, s.num, s.den, s.err);
        resample_finish<T, false, kStrict, false>(wt, j0, j1, s.num, s.den, s.err, fill, o, oi);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// One output pixel at a time: the decomposition of the CUDA kernel (a thread
// per output pixel), which finds its input pixels by a search where
// resample_build_* sweep, and sums them where resample_accumulate/finish do.
// Every step is the expression of the CPU path, in the same order, so the
// results are the CPU's bit for bit: the weights of output pixel j are those
// resample_build_* store (the sweep's pointer, carried from pixel to pixel,
// is the first input pixel that the search finds); its sums run over the
// same entries in the same order; and the general finish (1 / den, den^2 /
// err) gives the bits of the all-valid shortcut whenever the pixel's inputs
// are all valid (den is then tot exactly: the same sum of the same weights).

// Bin edges of m centres: stored (edges[i]) or computed when asked
// (bin_edge(), the values bin_edges() stores).
struct ResampleEdgesStored {
  const double* e;
  DEEPZ_HD double operator()(std::int64_t i) const { return e[i]; }
};
struct ResampleEdgesOnTheFly {
  const double* w;
  std::int64_t m;
  DEEPZ_HD double operator()(std::int64_t i) const { return bin_edge(w, m, i); }
};

// What output pixel j reads: `count` input pixels from `first` (count 0: not
// covered, fill). Flux: a, b are the output bin's edges clamped to the input
// grid and r = 1 / (summed overlaps) (the weights are recomputed from the
// edges as (overlap) * r, or 1 when count == 1). Linear: a, b are the
// weights of the (at most two) entries, in order. Five doubles, so that the
// CUDA kernel can store one per output pixel of a shared grid.
struct ResamplePlan {
  double first, count, a, b, r;
};

// Plan of the flux-conserving output bin [lo, hi] over the m input bins with
// edges ein (an accessor); guess: where its first input pixel probably is.
template <class Edges>
DEEPZ_HD ResamplePlan resample_plan_flux(const Edges& ein, std::int64_t m, double lo, double hi,
                                         std::int64_t guess) {
  ResamplePlan pl{0.0, 0.0, 0.0, 0.0, 0.0};
  const double lo_edge = ein(0), hi_edge = ein(m);
  const double tol = 1e-9 * (hi - lo);
  if (lo < lo_edge - tol || hi > hi_edge + tol) return pl;  // not fully covered
  lo = lo < lo_edge ? lo_edge : lo;
  hi = hi > hi_edge ? hi_edge : hi;
  const double x = lo + tol;
  // first input bin whose upper edge passes lo by more than tol
  const std::int64_t i = first_true_near(m, [&](std::int64_t q) { return ein(q + 1) > x; }, guess);
  double total = 0.0;
  std::int64_t q = i, count = 0;
  do {
    const double e0 = ein(q), e1 = ein(q + 1);
    const double a = e0 > lo ? e0 : lo;
    const double b = e1 < hi ? e1 : hi;
    total += b - a;
    ++count;
    ++q;
  } while (ein(q) < hi - tol);
  pl.first = static_cast<double>(i);
  pl.count = static_cast<double>(count);
  pl.a = lo;
  pl.b = hi;
  pl.r = 1.0 / total;
  return pl;
}

// Plan of the linear-interpolation output point x over the m >= 2 input
// centres win; guess: probably the input pixel at or below x.
DEEPZ_HD ResamplePlan resample_plan_linear(const double* win, std::int64_t m, double x,
                                           std::int64_t guess) {
  ResamplePlan pl{0.0, 0.0, 0.0, 0.0, 0.0};
  if (x < win[0] || x > win[m - 1]) return pl;  // outside the input
  // the sweep's i: the first i < m - 2 with win[i + 1] >= x, else m - 2
  const std::int64_t i =
      first_true_near(m - 2, [&](std::int64_t q) { return !(win[q + 1] < x); }, guess);
  const double t = (x - win[i]) / (win[i + 1] - win[i]);
  const double s = 1.0 - t;
  pl.first = static_cast<double>(s > 0.0 ? i : i + 1);
  pl.count = static_cast<double>((s > 0.0 ? 1 : 0) + (t > 0.0 ? 1 : 0));
  pl.a = s > 0.0 ? s : t;
  pl.b = t;
  return pl;
}

// Plan of output pixel j of the output centres wout (p) over the input
// centres win (m), guessing the first input pixel by linear interpolation
// over the input's range (exact on linear grids; the search gallops from
// there on others).
template <bool kLinear>
DEEPZ_HD ResamplePlan resample_make_plan(const double* win, std::int64_t m, const double* wout,
                                         std::int64_t p, std::int64_t j) {
  if (kLinear) {
    const double x = wout[j];
    const double g = (x - win[0]) / (win[m - 1] - win[0]) * static_cast<double>(m - 1);
    const std::int64_t guess =
        g > 0.0 ? (g < static_cast<double>(m) ? static_cast<std::int64_t>(g) : m) : 0;
    return resample_plan_linear(win, m, x, guess);
  }
  const ResampleEdgesOnTheFly ein{win, m};
  const double lo = bin_edge(wout, p, j), hi = bin_edge(wout, p, j + 1);
  const double e0 = ein(0), em = ein(m);
  const double g = (lo - e0) / (em - e0) * static_cast<double>(m);
  const std::int64_t guess =
      g > 0.0 ? (g < static_cast<double>(m) ? static_cast<std::int64_t>(g) : m) : 0;
  return resample_plan_flux(ein, m, lo, hi, guess);
}

// resample_prepare's fold of one input pixel: vf, v (and var with ivar).
template <class T>
DEEPZ_HD void resample_prepare_pixel(const T* flux, const T* ivar, std::int64_t i, double* vf,
                                     double* v, double* var) {
  const double f = static_cast<double>(flux[i]);
  if (ivar == nullptr) {
    const bool ok = f - f == 0.0;  // false for NaN and +-inf
    *vf = ok ? f : 0.0;
    *v = ok ? 1.0 : 0.0;
    *var = 0.0;
    return;
  }
  const double r = 1.0 / static_cast<double>(ivar[i]);  // inf, NaN or <= 0 when masked
  const double finite = (f - f) + (r - r) == 0.0 ? 1.0 : 0.0;
  const double ok = r > 0.0 ? finite : 0.0;
  *vf = ok != 0.0 ? f : 0.0;
  *v = ok;
  *var = ok != 0.0 ? r : 0.0;
}

// Output pixel j of one spectrum from its plan: flux/ivar are the spectrum's
// rows (ivar may be null; out_ivar then is); kLinear picks the weights and
// the strict mask rule of "linear".
template <class T, bool kLinear, class Edges>
DEEPZ_HD void resample_pixel(const ResamplePlan& pl, const Edges& ein, const T* flux, const T* ivar,
                             T fill, T* out, T* out_ivar) {
  const std::int64_t count = static_cast<std::int64_t>(pl.count);
  if (count == 0) {
    *out = fill;
    if (ivar != nullptr) *out_ivar = T(0);
    return;
  }
  const std::int64_t first = static_cast<std::int64_t>(pl.first);
  double sn = 0.0, sd = 0.0, se = 0.0, tot = 0.0;
  for (std::int64_t q = 0; q < count; ++q) {
    double u;
    if (kLinear) {
      u = q == 0 ? pl.a : pl.b;
    } else if (count == 1) {
      u = 1.0;  // one input alone: weight exactly 1
    } else {
      const std::int64_t k = first + q;
      const double e0 = ein(k), e1 = ein(k + 1);
      const double a = e0 > pl.a ? e0 : pl.a;
      const double b = e1 < pl.b ? e1 : pl.b;
      u = (b - a) * pl.r;
    }
    tot += u;
    double vf, v, var;
    resample_prepare_pixel(flux, ivar, first + q, &vf, &v, &var);
    sn += u * vf;
    sd += u * v;
    if (ivar != nullptr) se += (u * u) * var;
  }
  const double rd = 1.0 / sd;
  const bool ok = kLinear ? sd > 0.0 && sd == tot : sd > 0.0;
  *out = ok ? static_cast<T>(sn * rd) : fill;
  if (ivar != nullptr) *out_ivar = ok ? static_cast<T>(sd * sd / se) : T(0);
}

}  // namespace deepz

// ---------------------------------------------------------------------------
// CPU fast path for spectra that share one weight map: 4 spectra at a time,
// their prepared pixels interleaved (x[(i - a) * 4 + l]), so that every
// weight load, loop step and branch serves 4 spectra and the arithmetic runs
// on 4-double vectors (GCC/Clang vector extensions: one AVX register, or two
// SSE2 ones). Each lane performs exactly the operations of
// resample_spectrum, in the same order and without contraction, so the
// results are bitwise those of the one-spectrum path. Host only.
#if (defined(__GNUC__) || defined(__clang__)) && !defined(__CUDACC__)
#define DEEPZ_RESAMPLE_LANES 1

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"  // 32-byte vectors in inline functions: no ABI crossed
#endif

namespace deepz {
namespace lanes {

typedef double d4 __attribute__((vector_size(32)));
typedef long long m4 __attribute__((vector_size(32)));

inline d4 load(const double* p) {
  d4 x;
  std::memcpy(&x, p, sizeof x);
  return x;
}
inline void store(double* p, const d4& x) {
  std::memcpy(p, &x, sizeof x);
}

// resample_prepare for rows flux + l * m, l < 4, interleaved.
template <class T>
inline bool prepare4(const T* flux, const T* ivar, std::int64_t m, std::int64_t a, std::int64_t b,
                     double* __restrict vf, double* __restrict v, double* __restrict var) {
  const d4 one = {1.0, 1.0, 1.0, 1.0};
  m4 all = {-1, -1, -1, -1};
  for (std::int64_t i = a; i < b; ++i) {
    const d4 f = {static_cast<double>(flux[i]), static_cast<double>(flux[m + i]),
                  static_cast<double>(flux[2 * m + i]), static_cast<double>(flux[3 * m + i])};
    m4 ok;
    if (ivar == nullptr) {
      ok = (f - f) == 0.0;
    } else {
      const d4 iv = {static_cast<double>(ivar[i]), static_cast<double>(ivar[m + i]),
                     static_cast<double>(ivar[2 * m + i]), static_cast<double>(ivar[3 * m + i])};
      const d4 r = 1.0 / iv;
      ok = (((f - f) + (r - r)) == 0.0) & (r > 0.0);
      store(var + (i - a) * 4, reinterpret_cast<d4>(reinterpret_cast<m4>(r) & ok));
    }
    store(vf + (i - a) * 4, reinterpret_cast<d4>(reinterpret_cast<m4>(f) & ok));
    store(v + (i - a) * 4, reinterpret_cast<d4>(reinterpret_cast<m4>(one) & ok));
    all &= ok;
  }
  return (all[0] & all[1] & all[2] & all[3]) != 0;
}

// resample_accumulate + resample_finish of chunk [j0, j1) for 4 interleaved
// spectra, writing rows out + l * p.
template <class T, bool kIvar, bool kStrict, bool kAllValid>
inline void sums4(const ResampleWeights& wt, std::int64_t j0, std::int64_t j1, std::int64_t a,
                  const double* __restrict vf, const double* __restrict v,
                  const double* __restrict var, std::int64_t p, T fill, T* __restrict out,
                  T* __restrict out_ivar) {
  for (std::int64_t j = j0; j < j1; ++j) {
    const std::int64_t k0 = wt.off[j], n = wt.off[j + 1] - k0;
    const double* __restrict u = wt.u + k0;
    const double* __restrict u2 = wt.u2 + k0;
    const std::int64_t x = (wt.first[j] - a) * 4;
    d4 sn = {0.0, 0.0, 0.0, 0.0}, sd = sn, se = sn;
    for (std::int64_t q = 0; q < n; ++q) {
      sn += u[q] * load(vf + x + 4 * q);
      if (!kAllValid) sd += u[q] * load(v + x + 4 * q);
      if (kIvar) se += u2[q] * load(var + x + 4 * q);
    }
    if (kAllValid) {
      const double t = wt.tot[j];
      const d4 fo = sn * wt.rtot[j];
      for (int l = 0; l < 4; ++l) out[l * p + j] = static_cast<T>(fo[l]);
      if (kIvar) {
        const d4 io = (t * t) / se;
        for (int l = 0; l < 4; ++l) out_ivar[l * p + j] = static_cast<T>(io[l]);
      }
    } else {
      const d4 fo = sn * (1.0 / sd);
      const d4 io = (sd * sd) / se;
      const double t = wt.tot[j];
      for (int l = 0; l < 4; ++l) {
        const bool ok = kStrict ? sd[l] > 0.0 && sd[l] == t : sd[l] > 0.0;
        out[l * p + j] = ok ? static_cast<T>(fo[l]) : fill;
        if (kIvar) out_ivar[l * p + j] = ok ? static_cast<T>(io[l]) : T(0);
      }
    }
  }
}

// resample_spectrum for 4 spectra sharing wt: rows flux + l * m (ivar
// likewise, or null) into rows out + l * p (out_ivar likewise). Scratch: vf,
// v, var of 4 * widest doubles each.
template <class T, bool kStrict>
inline void spectra4(const ResampleWeights& wt, const ResampleChunks& ch, std::int64_t nchunks,
                     std::int64_t m, std::int64_t p, const T* flux, const T* ivar, T fill, T* out,
                     T* out_ivar, ResampleScratch s) {
  const bool has_ivar = ivar != nullptr;
  for (std::int64_t c = 0; c < nchunks; ++c) {
    const std::int64_t j0 = ch.start[c], j1 = ch.start[c + 1], a = ch.lo[c], b = ch.hi[c];
    if (a == b) {  // not covered
      for (int l = 0; l < 4; ++l)
        for (std::int64_t j = j0; j < j1; ++j) {
          out[l * p + j] = fill;
          if (has_ivar) out_ivar[l * p + j] = T(0);
        }
      continue;
    }
    const bool all_valid = prepare4<T>(flux, ivar, m, a, b, s.vf, s.v, s.var);
    if (has_ivar) {
      if (all_valid)
        sums4<T, true, kStrict, true>(wt, j0, j1, a, s.vf, s.v, s.var, p, fill, out, out_ivar);
      else
        sums4<T, true, kStrict, false>(wt, j0, j1, a, s.vf, s.v, s.var, p, fill, out, out_ivar);
    } else {
      if (all_valid)
        sums4<T, false, kStrict, true>(wt, j0, j1, a, s.vf, s.v, s.var, p, fill, out, out_ivar);
      else
        sums4<T, false, kStrict, false>(wt, j0, j1, a, s.vf, s.v, s.var, p, fill, out, out_ivar);
    }
  }
}

}  // namespace lanes
}  // namespace deepz

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif  // DEEPZ_RESAMPLE_LANES
