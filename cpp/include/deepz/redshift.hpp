// deepz/redshift.hpp -- place rest-frame templates at redshift z on an observed grid.
//
// Sample n takes template t = templates[index[n]] (rest bins with edges er[0..R])
// and puts it at redshift z[n]: lambda_obs = lambda_rest (1 + z). Observed bin j
// with edges [eo[j], eo[j+1]] maps to the rest interval [eo[j]/(1+z), eo[j+1]/(1+z)];
// its value is the overlap-weighted mean of the rest bins over that interval
// (flux-conserving, the SpectRes convention), times a scale factor (1/(1+z) for
// f_lambda, (1+z) for f_nu, 1 for none). The scaled edges are computed on the fly,
// as eo[j] * (1/(1+z)) (one division per spectrum, not per bin): no redshifted
// grid is ever stored.
//
// Rules shared by both paths (and by the numpy reference in tests/):
// - an observed bin not fully inside [er[0], er[R]] gets `fill`;
// - the overlap of rest bin m with [lo, hi] is max(min(hi, er[m+1]) - max(lo, er[m]), 0);
// - a NaN template pixel is masked: it carries no weight; an observed bin that
//   overlaps only masked pixels gets `fill`;
// - the mean is written tref + sum w (t - tref) / sum w, tref being the value of
//   the first rest pixel that contributes: a bin fed by one pixel takes its
//   value exactly (z = 0 on the rest grid returns the template bit for bit), and
//   a constant template stays exactly constant.
//
// Two sweeps give the same numbers, term for term:
// - general: one binary search per spectrum, then a two-pointer walk,
//   O(P + covered R) per spectrum;
// - log-lambda: when both grids are log-linear with the same step dloglam, the
//   interior edges of both lie on one log grid, so observed edge j sits
//   shift = (log10 eo[1] - log10 er[1] - log10(1+z)) / dloglam rest pixels
//   after rest edge j; with k = round(shift), observed bin j overlaps only rest
//   bins j+k-1, j+k, j+k+1. The sweep evaluates those three overlaps with the
//   general formula, branch-free, and vectorises. loglam_window_holds() checks
//   once per call that the grids are log-linear enough for the window to hold
//   for every bin and z; templates with NaN take the general sweep.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "deepz/grid.hpp"
#include "deepz/parallel.hpp"

namespace deepz {

// How the mean template value is scaled (the binding passes these numbers).
enum class RedshiftScale : int { none = 0, flambda = 1, fnu = 2 };

namespace redshift_detail {

DEEPZ_HD double dmin(double a, double b) {
  return a < b ? a : b;
}
DEEPZ_HD double dmax(double a, double b) {
  return a > b ? a : b;
}

// Overlap of rest bin [elo, ehi] with the observed bin [lo, hi] (>= 0).
DEEPZ_HD double overlap(double lo, double hi, double elo, double ehi) {
  return dmax(dmin(hi, ehi) - dmax(lo, elo), 0.0);
}

// First j in [0, n) with pred(j) true, for a predicate false...false true...true
// (n when none is true).
template <class Pred>
DEEPZ_HD std::int64_t first_true(std::int64_t n, Pred pred) {
  std::int64_t lo = 0, hi = n;
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    if (pred(mid))
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

// The observed bins [j0, j1) lie fully inside the rest edges [er[0], er[r]]:
// eo[j] inv >= er[0] and eo[j + 1] inv <= er[r], inv = 1/(1+z) (j1 <= j0 when
// none does).
DEEPZ_HD void covered_bins(const double* er, std::int64_t r, const double* eo, std::int64_t p,
                           double inv, std::int64_t* j0, std::int64_t* j1) {
  const double first = er[0], last = er[r];
  *j0 = first_true(p, [=](std::int64_t j) { return eo[j] * inv >= first; });
  *j1 = first_true(p, [=](std::int64_t j) { return eo[j + 1] * inv > last; });
}

// Add rest pixel (value tv, edges elo, ehi) to the sums of the observed bin
// [lo, hi]. The mean is written tref + sum w (t - tref) / sum w with tref the
// value of the first pixel that contributes: one contributing pixel gives its
// value exactly, and so does a constant template. NaN pixels weigh nothing.
DEEPZ_HD void add_pixel(double lo, double hi, double elo, double ehi, double tv, double* wsum,
                        double* acc, double* tref, bool* have) {
  const double ov = overlap(lo, hi, elo, ehi);
  const bool ok = (ov != 0.0) & (tv == tv);
  const double w = ok ? ov : 0.0;
  const double v = ok ? tv : 0.0;
  *tref = *have ? *tref : v;
  *have = *have | ok;
  *acc += w * (v - *tref);
  *wsum += w;
}

// c ? a : b without a branch (GCC keeps a floating-point ?: as a branch, and
// in the window sweep below its outcome is data-dependent, so it mispredicts).
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

// add_pixel without branches: the same values.
DEEPZ_HD void add_pixel_nb(double lo, double hi, double elo, double ehi, double tv, double* wsum,
                           double* acc, double* tref, bool* have) {
  const double ov = overlap(lo, hi, elo, ehi);
  const bool ok = (ov != 0.0) & (tv == tv);
  const double w = select(ok, ov, 0.0);
  const double v = select(ok, tv, 0.0);
  *tref = select(*have, *tref, v);
  *have = *have | ok;
  *acc += w * (v - *tref);
  *wsum += w;
}

}  // namespace redshift_detail

// Scale factor of a sample at redshift z (opz = 1 + z, inv = 1 / opz).
DEEPZ_HD double redshift_factor(int mode, double opz, double inv) {
  return mode == static_cast<int>(RedshiftScale::flambda) ? inv
         : mode == static_cast<int>(RedshiftScale::fnu)   ? opz
                                                          : 1.0;
}

namespace redshift_detail {

// Rest bin holding x: the last m with er[m] <= x, clamped to [0, r - 1].
DEEPZ_HD std::int64_t rest_bin(const double* er, std::int64_t r, double x) {
  std::int64_t m = first_true(r + 1, [=](std::int64_t i) { return er[i] > x; }) - 1;
  return m < 0 ? 0 : (m > r - 1 ? r - 1 : m);
}

// The same bin, found by galloping out from a guess g (any g gives the same
// answer; a good one makes it O(1)): O(log |answer - g|) reads of er.
DEEPZ_HD std::int64_t rest_bin_near(const double* er, std::int64_t r, double x, std::int64_t g) {
  const std::int64_t m = first_true_near(r + 1, [=](std::int64_t i) { return er[i] > x; }, g) - 1;
  return m < 0 ? 0 : (m > r - 1 ? r - 1 : m);
}

}  // namespace redshift_detail

// One covered observed bin of the general sweep: its rest-frame interval is
// [lo, hi]; the rest pixels m, m + 1, ... are walked from *m (the pixel holding
// lo, or one before it that does not overlap [lo, hi]) to the one holding hi,
// where *m is left (the next bin starts there). Returns the scaled mean, or
// fill when no unmasked pixel overlaps.
template <class T>
DEEPZ_HD double redshift_general_bin(const T* t, const double* er, std::int64_t r, double lo,
                                     double hi, std::int64_t* m_io, double factor, double fill) {
  using namespace redshift_detail;
  std::int64_t m = *m_io;
  double wsum = 0.0, acc = 0.0, tref = 0.0;
  bool have = false;
  for (;;) {  // the rest pixels from the one holding lo to the one holding hi
    add_pixel(lo, hi, er[m], er[m + 1], static_cast<double>(t[m]), &wsum, &acc, &tref, &have);
    if (er[m + 1] >= hi || m + 1 >= r) break;
    ++m;
  }
  *m_io = m;
  return wsum == 0.0 ? fill : (tref + acc / wsum) * factor;
}

// General sweep for one spectrum. t: (r,) template; er: (r+1,) rest edges;
// eo: (p+1,) observed edges; opz = 1 + z > 0; out: (p,).
template <class T>
DEEPZ_HD void redshift_one(const T* t, const double* er, std::int64_t r, const double* eo,
                           std::int64_t p, double opz, int mode, double fill, T* out) {
  using namespace redshift_detail;
  const double inv = 1.0 / opz;  // observed edges map to rest edges eo * inv
  const double factor = redshift_factor(mode, opz, inv);
  std::int64_t j0, j1;
  covered_bins(er, r, eo, p, inv, &j0, &j1);
  for (std::int64_t j = 0; j < p; ++j) {
    if (j < j0 || j >= j1) out[j] = static_cast<T>(fill);
  }
  if (j0 >= j1) return;
  double lo = eo[j0] * inv;
  std::int64_t m = rest_bin(er, r, lo);  // er[0] <= lo < er[r]
  for (std::int64_t j = j0; j < j1; ++j) {
    const double hi = eo[j + 1] * inv;
    out[j] = static_cast<T>(redshift_general_bin(t, er, r, lo, hi, &m, factor, fill));
    lo = hi;
  }
}

// -- the same sweep, one observed bin at a time (the CUDA kernel: a thread per bin) --
//
// redshift_pixel_setup() once per spectrum, then redshift_pixel() for each bin j
// in any order: the bin's first rest pixel is found by rest_bin_near() from a
// guess interpolated between the first and last covered bins, and the bin is
// summed by redshift_general_bin(), so every value equals redshift_one()'s bit
// for bit (the start pixel may differ only by a pixel that does not overlap the
// bin, which adds exact zeros).
struct RedshiftPixelSetup {
  double inv;       // 1 / (1 + z)
  double factor;    // redshift_factor()
  std::int64_t j0;  // covered observed bins [j0, j1)
  std::int64_t j1;
  std::int64_t m0;  // rest bin holding the lower edge of bin j0 ...
  std::int64_t m1;  // ... and of bin j1 - 1 (the guesses interpolate between them)
};

DEEPZ_HD RedshiftPixelSetup redshift_pixel_setup(const double* er, std::int64_t r, const double* eo,
                                                 std::int64_t p, double opz, int mode) {
  using namespace redshift_detail;
  RedshiftPixelSetup s;
  s.inv = 1.0 / opz;
  s.factor = redshift_factor(mode, opz, s.inv);
  covered_bins(er, r, eo, p, s.inv, &s.j0, &s.j1);
  s.m0 = s.m1 = 0;
  if (s.j0 < s.j1) {
    s.m0 = rest_bin(er, r, eo[s.j0] * s.inv);
    s.m1 = rest_bin(er, r, eo[s.j1 - 1] * s.inv);
  }
  return s;
}

template <class T>
DEEPZ_HD T redshift_pixel(const T* t, const double* er, std::int64_t r, const double* eo,
                          const RedshiftPixelSetup& s, std::int64_t j, double fill) {
  using namespace redshift_detail;
  if (j < s.j0 || j >= s.j1) return static_cast<T>(fill);
  const double lo = eo[j] * s.inv, hi = eo[j + 1] * s.inv;
  const std::int64_t span = s.j1 - 1 - s.j0;
  const std::int64_t guess =
      span > 0 ? s.m0 + static_cast<std::int64_t>(static_cast<double>(s.m1 - s.m0) *
                                                  static_cast<double>(j - s.j0) /
                                                  static_cast<double>(span))
               : s.m0;
  std::int64_t m = rest_bin_near(er, r, lo, guess);
  return static_cast<T>(redshift_general_bin(t, er, r, lo, hi, &m, s.factor, fill));
}

// Log-lambda sweep for one spectrum (same arguments). Valid only when the
// caller has checked the grids with loglam_window_holds() and the template has
// no NaN; needs r >= 3. dloglam: the common log10 step; er[1], eo[1] anchor the
// two grids.
template <class T>
DEEPZ_HD void redshift_one_loglam(const T* t, const double* er, std::int64_t r, const double* eo,
                                  std::int64_t p, double opz, int mode, double fill, double dloglam,
                                  T* out) {
  using namespace redshift_detail;
  const double inv = 1.0 / opz;  // observed edges map to rest edges eo * inv
  const double factor = redshift_factor(mode, opz, inv);
  std::int64_t j0, j1;
  covered_bins(er, r, eo, p, inv, &j0, &j1);
  for (std::int64_t j = 0; j < p; ++j) {
    if (j < j0 || j >= j1) out[j] = static_cast<T>(fill);
  }
  if (j0 >= j1) return;
  // Observed edge j sits near rest edge j + k; bin j overlaps rest bins
  // b..b+2 with b = j + k - 1, clamped to [0, r - 3] at the ends.
  const double shift = (std::log10(eo[1]) - std::log10(opz) - std::log10(er[1])) / dloglam;
  const std::int64_t bmax = r - 3;
  const double kmax = static_cast<double>(r + p);  // beyond this nothing is covered anyway
  const std::int64_t k = static_cast<std::int64_t>(std::llround(dmax(-kmax, dmin(kmax, shift))));
  std::int64_t jb0 = 1 - k, jb1 = bmax + 1 - k;  // the body: 0 <= j + k - 1 <= bmax
  jb0 = jb0 < j0 ? j0 : (jb0 > j1 ? j1 : jb0);
  jb1 = jb1 < jb0 ? jb0 : (jb1 > j1 ? j1 : jb1);
  for (std::int64_t j = j0; j < j1; ++j) {  // the few clamped bins at either end
    if (j == jb0) j = jb1;
    if (j >= j1) break;
    std::int64_t b = j + k - 1;
    b = b < 0 ? 0 : (b > bmax ? bmax : b);
    const double lo = eo[j] * inv, hi = eo[j + 1] * inv;
    double wsum = 0.0, acc = 0.0, tref = 0.0;
    bool have = false;
    for (std::int64_t m = b; m < b + 3; ++m)
      add_pixel(lo, hi, er[m], er[m + 1], static_cast<double>(t[m]), &wsum, &acc, &tref, &have);
    out[j] = static_cast<T>(wsum == 0.0 ? fill : (tref + acc / wsum) * factor);
  }
  // The body: contiguous and branch-free (only min/max and equality tests),
  // so it vectorises; the same numbers as add_pixel on the same window.
  const std::int64_t off = k - 1;
  for (std::int64_t j = jb0; j < jb1; ++j) {
    const double lo = eo[j] * inv, hi = eo[j + 1] * inv;
    const double e0 = er[j + off], e1 = er[j + off + 1], e2 = er[j + off + 2], e3 = er[j + off + 3];
    const double t0 = static_cast<double>(t[j + off]), t1 = static_cast<double>(t[j + off + 1]),
                 t2 = static_cast<double>(t[j + off + 2]);
    const double w0 = overlap(lo, hi, e0, e1), w1 = overlap(lo, hi, e1, e2),
                 w2 = overlap(lo, hi, e2, e3);
    const double tref = w0 != 0.0 ? t0 : (w1 != 0.0 ? t1 : t2);
    const double wsum = w0 + w1 + w2;
    const double acc = w0 * (t0 - tref) + w1 * (t1 - tref) + w2 * (t2 - tref);
    out[j] = static_cast<T>((tref + acc / wsum) * factor);
  }
}

// Window sweep on a near-linear rest grid (any observed grid). Rest edge i
// lies within delta pixels of er[0] + i dr, so the rest pixels that overlap
// observed bin [lo, hi] are among the kL pixels from
// b = floor((lo - er[0]) / dr - delta) on (clamped to [0, r - kL]); the sweep
// adds exactly those kL with add_pixel_nb, branch-free (the general sweep's
// 1-or-2-pixel loop mispredicts about every other bin on Euclid's grids).
// Pixels of the window that miss [lo, hi] add zeros, which change no sum
// (acc and wsum start at +0 and never become -0), and the first contributing
// pixel is the same as in the general sweep, so the result is redshift_one's,
// bit for bit -- provided the window holds: er[b] <= lo and er[b + kL] >= hi.
// Each bin checks that (two comparisons); window_bins returns false if any
// bin failed, and the caller then runs redshift_one for the spectrum. NaN
// template pixels are handled as in the general sweep.

// Bins [ja, jb) of one spectrum, inv = 1/(1+z); returns whether every window held.
template <class T, int kL>
DEEPZ_HD bool window_bins(const T* t, const double* er, std::int64_t r, const double* eo,
                          std::int64_t ja, std::int64_t jb, double inv, double factor, double fill,
                          double rdr, double delta, T* out) {
  using namespace redshift_detail;
  const double er0 = er[0];
  const double bmax = static_cast<double>(r - kL);
  bool holds = true;
  for (std::int64_t j = ja; j < jb; ++j) {
    const double lo = eo[j] * inv, hi = eo[j + 1] * inv;
    // floor of a value clamped to [0, bmax] is its truncation
    const std::int64_t b =
        static_cast<std::int64_t>(dmin(dmax((lo - er0) * rdr - delta, 0.0), bmax));
    double wsum = 0.0, acc = 0.0, tref = 0.0;
    bool have = false;
    for (int i = 0; i < kL; ++i) {
      add_pixel_nb(lo, hi, er[b + i], er[b + i + 1], static_cast<double>(t[b + i]), &wsum, &acc,
                   &tref, &have);
    }
    holds &= (er[b] <= lo) & (er[b + kL] >= hi);
    out[j] = static_cast<T>(select(wsum == 0.0, fill, (tref + acc / wsum) * factor));
  }
  return holds;
}

// What every sweep does first: inv = 1/(1+z), the scale factor, the covered
// bins [j0, j1) (fill elsewhere).
template <class T>
DEEPZ_HD void redshift_prologue(const double* er, std::int64_t r, const double* eo, std::int64_t p,
                                double opz, int mode, double fill, T* out, double* inv,
                                double* factor, std::int64_t* j0, std::int64_t* j1) {
  *inv = 1.0 / opz;
  *factor = redshift_factor(mode, opz, *inv);
  redshift_detail::covered_bins(er, r, eo, p, *inv, j0, j1);
  for (std::int64_t j = 0; j < p; ++j) {
    if (j < *j0 || j >= *j1) out[j] = static_cast<T>(fill);
  }
}

// One spectrum by the window sweep (needs r >= kL); false: redo it with
// redshift_one.
template <class T, int kL>
DEEPZ_HD bool redshift_one_window(const T* t, const double* er, std::int64_t r, const double* eo,
                                  std::int64_t p, double opz, int mode, double fill, double rdr,
                                  double delta, T* out) {
  double inv, factor;
  std::int64_t j0, j1;
  redshift_prologue(er, r, eo, p, opz, mode, fill, out, &inv, &factor, &j0, &j1);
  if (j0 >= j1) return true;
  return window_bins<T, kL>(t, er, r, eo, j0, j1, inv, factor, fill, rdr, delta, out);
}

// The window sweep's parameters for one call: `on` when the rest grid is
// linear to within a quarter pixel (its edges, outer ones included, stray at
// most delta_r pixels from er[0] + i dr). delta adds a margin for the rounding
// of (lo - er[0]) / dr; wmax is the widest observed bin, in rest pixels at z = 0.
// force_l (tests only) imposes a window length: too short a window must be
// caught and redone by the general sweep.
struct RedshiftWindow {
  bool on = false;
  double rdr = 0.0, delta = 0.0, wmax = 0.0;
  int force_l = 0;
};

inline RedshiftWindow redshift_window_plan(const double* er, std::int64_t r, const double* eo,
                                           std::int64_t p, int force_l = 0) {
  RedshiftWindow w;
  w.force_l = force_l;
  if (r < 4 || r > (std::int64_t{1} << 30)) return w;
  const double dr = (er[r] - er[0]) / static_cast<double>(r);
  if (!(dr > 0.0)) return w;
  double delta_r = 0.0;
  for (std::int64_t i = 0; i <= r; ++i) {
    const double u = std::fabs((er[i] - er[0]) / dr - static_cast<double>(i));
    delta_r = u > delta_r ? u : delta_r;
  }
  double wmax = 0.0;
  for (std::int64_t j = 0; j < p; ++j) wmax = eo[j + 1] - eo[j] > wmax ? eo[j + 1] - eo[j] : wmax;
  if (!(delta_r < 0.25) && force_l == 0) return w;
  w.on = true;
  w.rdr = 1.0 / dr;
  w.delta = delta_r + 1e-6;
  w.wmax = wmax / dr;
  return w;
}

// Pixels the window needs at 1 + z = opz: an observed bin spans wmax / opz
// rest pixels at most, so its overlaps lie among floor(wmax / opz + 2 delta)
// + 2 pixels from b (0 if the window sweep is off or would need more than 4).
inline int redshift_window_length(const RedshiftWindow& w, std::int64_t r, double opz) {
  if (!w.on) return 0;
  if (w.force_l > 0) return w.force_l <= r ? w.force_l : 0;
  const double span = w.wmax / opz + 2.0 * w.delta;
  if (!(span < 3.0)) return 0;
  const int l = static_cast<int>(span) + 2;
  return l <= r ? l : 0;
}

// The scalar window sweep with the window length chosen at run time.
struct ScalarWindow {
  template <class T>
  bool operator()(int l, bool /*nan_free*/, const T* t, const double* er, std::int64_t r,
                  const double* eo, std::int64_t p, double opz, int mode, double fill, double rdr,
                  double delta, T* out) const {
    switch (l) {
      case 2:
        return redshift_one_window<T, 2>(t, er, r, eo, p, opz, mode, fill, rdr, delta, out);
      case 3:
        return redshift_one_window<T, 3>(t, er, r, eo, p, opz, mode, fill, rdr, delta, out);
      case 4:
        return redshift_one_window<T, 4>(t, er, r, eo, p, opz, mode, fill, rdr, delta, out);
      default:
        return false;
    }
  }
};

// Do the grids let the log-lambda sweep see every overlap? With dloglam the
// mean log10 step of the rest centres, measure how far each edge of either grid
// (outer edges included) strays from its place on one ideal log grid, in
// pixels: delta_r, delta_o. Observed edge j then lies within 0.5 + delta_o of
// rest edge j + k (k = round(shift)), and rest edge i within delta_r of its
// place, so the three-bin window of redshift_one_loglam holds for every bin and
// every z whenever delta_r + delta_o < 0.5; this asks for < 0.25. O(r + p),
// once per call.
inline bool loglam_window_holds(const double* er, std::int64_t r, const double* eo, std::int64_t p,
                                double dloglam) {
  if (r < 3 || p < 2 || !(dloglam > 0.0)) return false;
  const double ar = std::log10(er[1]), ao = std::log10(eo[1]);
  double delta_r = 0.0, delta_o = 0.0;
  for (std::int64_t i = 0; i <= r; ++i) {
    const double u = (std::log10(er[i]) - ar) / dloglam - static_cast<double>(i - 1);
    if (u != u) return false;  // er <= 0
    delta_r = std::fabs(u) > delta_r ? std::fabs(u) : delta_r;
  }
  for (std::int64_t j = 0; j <= p; ++j) {
    const double u = (std::log10(eo[j]) - ao) / dloglam - static_cast<double>(j - 1);
    if (u != u) return false;
    delta_o = std::fabs(u) > delta_o ? std::fabs(u) : delta_o;
  }
  return delta_r + delta_o < 0.25;
}

// True when the template t (r,) holds no NaN.
template <class T>
bool has_no_nan(const T* t, std::int64_t r) {
  bool ok = true;
  for (std::int64_t i = 0; i < r; ++i) ok &= (t[i] == t[i]);
  return ok;
}

// A batch: templates (k, r) row-major on rest centres rest_wave (r,), edges er
// (r+1,); sample n uses template index[n] (0 <= index[n] < k) at z[n] > -1;
// observed edges eo (p+1,); out (n, p). loglam: the caller found both grids
// log-linear with the same step; the log-lambda sweep then runs for the
// templates without NaN when loglam_window_holds() agrees. window: the
// window sweep may run where the rest grid is linear (redshift_window_plan)
// and the log-lambda one does not (window: 0 off, 1 on, 2 on with a window of
// 2 pixels imposed, a test hook); the general sweep runs everywhere else (and
// redoes a spectrum whose window did not hold). scratch: k bytes.
struct RedshiftPlan {
  bool loglam = false;
  double dloglam = 0.0;
  RedshiftWindow window;
  const unsigned char* kind = nullptr;  // per template used: 1 NaN-free, 2 has NaN
};

template <class T>
RedshiftPlan redshift_plan(const T* templates, std::int64_t k, std::int64_t r,
                           const double* rest_wave, const double* er, const std::int64_t* index,
                           std::int64_t n, const double* eo, std::int64_t p, bool loglam,
                           int window, unsigned char* scratch) {
  RedshiftPlan plan;
  if (loglam && r >= 3) {
    plan.dloglam =
        (std::log10(rest_wave[r - 1]) - std::log10(rest_wave[0])) / static_cast<double>(r - 1);
    plan.loglam = loglam_window_holds(er, r, eo, p, plan.dloglam);
  }
  // scratch[i]: 0 unused, 1 used and NaN-free (log-lambda sweep), 2 used with NaN.
  unsigned char* kind = scratch;
  for (std::int64_t i = 0; i < k; ++i) kind[i] = 0;
  if (plan.loglam || window > 0) {
    for (std::int64_t s = 0; s < n; ++s) {
      unsigned char& c = kind[index[s]];
      if (c == 0) c = has_no_nan(templates + index[s] * r, r) ? 1 : 2;
    }
  }
  plan.kind = kind;
  if (window > 0) plan.window = redshift_window_plan(er, r, eo, p, window == 2 ? 2 : 0);
  return plan;
}

// Samples [begin, end) of a batch (see redshift_batch); win runs the window
// sweep (ScalarWindow, or a vectorised one with the same results; it is told
// whether the template is NaN-free).
template <class T, class Window>
void redshift_rows(const T* templates, std::int64_t r, const double* er, const std::int64_t* index,
                   const double* z, const double* eo, std::int64_t p, int mode, double fill,
                   const RedshiftPlan& plan, T* out, std::int64_t begin, std::int64_t end,
                   const Window& win) {
  for (std::int64_t s = begin; s < end; ++s) {
    const T* t = templates + index[s] * r;
    T* o = out + s * p;
    const double opz = 1.0 + z[s];
    if (plan.loglam && plan.kind[index[s]] == 1) {
      redshift_one_loglam(t, er, r, eo, p, opz, mode, fill, plan.dloglam, o);
      continue;
    }
    const int l = redshift_window_length(plan.window, r, opz);
    if (l > 0 && win(l, plan.kind[index[s]] == 1, t, er, r, eo, p, opz, mode, fill, plan.window.rdr,
                     plan.window.delta, o))
      continue;
    redshift_one(t, er, r, eo, p, opz, mode, fill, o);
  }
}

template <class T>
void redshift_batch(const T* templates, std::int64_t k, std::int64_t r, const double* rest_wave,
                    const double* er, const std::int64_t* index, const double* z, std::int64_t n,
                    const double* eo, std::int64_t p, int mode, double fill, bool loglam,
                    int threads, T* out, unsigned char* scratch, int window = 0) {
  const RedshiftPlan plan =
      redshift_plan(templates, k, r, rest_wave, er, index, n, eo, p, loglam, window, scratch);
  parallel_for(n, threads, [&](std::int64_t begin, std::int64_t end) {
    redshift_rows(templates, r, er, index, z, eo, p, mode, fill, plan, out, begin, end,
                  ScalarWindow{});
  });
}

}  // namespace deepz
