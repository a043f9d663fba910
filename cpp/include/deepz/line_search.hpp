// deepz/line_search.hpp -- greedy emission-line refinement of a redshift.
//
// The correction of Yurchuk & Skyruta: a network predicts z0; each line of a
// list is searched, strongest first, in the window of redshifts
// [z0 - window, z0 + window] around its predicted position, and takes the
// local flux maximum of lowest cost
//
//   cost = w_dist * D + w_height * H + w_spacing * S
//   D = (|z_c - z0| / window)^2                 (0 at the prediction, 1 at the window edge;
//                                                quadratic, like a Gaussian prior on z0, so
//                                                that the tallest peak wins within the
//                                                window's inner part)
//   H = 1 - max(snr_c, 0) / max_snr             (0 for the tallest candidate of the window)
//   S = |z_c - zbar| / dz_pix                   (disagreement with the lines found so far,
//                                                in pixels: dz_pix = half the distance of the
//                                                candidate's two neighbour pixels / rest)
//
// where z_c = x_c / rest - 1 for the sub-pixel position x_c of the candidate
// (vertex of the parabola through it and its nearest unmasked neighbours),
// snr_c its peak S/N and zbar the S/N^2-weighted mean redshift of the lines
// found before it (S = 0 while none is). A line is found when the S/N of its
// chosen candidate is >= snr_min (and > 0). The refined z is the S/N^2
// weighted mean of the found lines' redshifts (z0 when none is found).
//
// Everything is computed in double, in a fixed order, so that the numpy
// reference (tests/reference_line_search.py) gives the same bits.
// The per-spectrum function uses no allocation, no exceptions and no std
// containers: it is DEEPZ_HD and reusable from CUDA.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "deepz/grid.hpp"

namespace deepz {

struct LineSearchParams {
  double window;     // half-width of the search window, in redshift (0 < window < 1)
  double w_dist;     // weight of the distance term D
  double w_height;   // weight of the height term H
  double w_spacing;  // weight of the spacing (consistency) term S
  double snr_min;    // a line is found when its S/N >= snr_min (and > 0)
};

namespace line_search_detail {

constexpr double kMadToSigma = 1.4826;  // sigma of a Gaussian = 1.4826 MAD

DEEPZ_HD void sift_down(double* a, std::int64_t root, std::int64_t n) {
  for (;;) {
    std::int64_t child = 2 * root + 1;
    if (child >= n) return;
    if (child + 1 < n && a[child] < a[child + 1]) ++child;
    if (!(a[root] < a[child])) return;
    const double t = a[root];
    a[root] = a[child];
    a[child] = t;
    root = child;
  }
}

// Sort a[0..n) ascending in place (heap sort: no recursion, no allocation).
DEEPZ_HD void heap_sort(double* a, std::int64_t n) {
  for (std::int64_t i = n / 2 - 1; i >= 0; --i) sift_down(a, i, n);
  for (std::int64_t end = n - 1; end > 0; --end) {
    const double t = a[0];
    a[0] = a[end];
    a[end] = t;
    sift_down(a, 0, end);
  }
}

// Median of the sorted a[0..n), n >= 1.
DEEPZ_HD double sorted_median(const double* a, std::int64_t n) {
  return (n % 2 == 1) ? a[n / 2] : 0.5 * (a[n / 2 - 1] + a[n / 2]);
}

// First index i with w[i] >= x (m if none); w increasing.
DEEPZ_HD std::int64_t first_at_or_above(const double* w, std::int64_t m, double x) {
  std::int64_t lo = 0, hi = m;
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    if (w[mid] >= x)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

// First index i with w[i] > x (m if none); w increasing.
DEEPZ_HD std::int64_t first_above(const double* w, std::int64_t m, double x) {
  std::int64_t lo = 0, hi = m;
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    if (w[mid] > x)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

// A pixel takes part when its flux is finite and, with an ivar, its ivar is
// finite and > 0.
template <class T>
DEEPZ_HD bool usable(const T* flux, const T* ivar, std::int64_t i) {
  const double f = static_cast<double>(flux[i]);
  if (!std::isfinite(f)) return false;
  if (ivar == nullptr) return true;
  const double v = static_cast<double>(ivar[i]);
  return v > 0.0 && std::isfinite(v);
}

// Nearest usable pixel before i (-1 if none) and after i (m if none).
template <class T>
DEEPZ_HD std::int64_t prev_usable(const T* flux, const T* ivar, std::int64_t i) {
  for (std::int64_t j = i - 1; j >= 0; --j)
    if (usable(flux, ivar, j)) return j;
  return -1;
}
template <class T>
DEEPZ_HD std::int64_t next_usable(const T* flux, const T* ivar, std::int64_t m, std::int64_t i) {
  for (std::int64_t j = i + 1; j < m; ++j)
    if (usable(flux, ivar, j)) return j;
  return m;
}

// Vertex of the parabola through (x0,y0), (x1,y1), (x2,y2) where y1 > y0 and
// y1 >= y2 (so it opens downwards and the vertex lies within half a pixel
// step of x1); x1 if the curvature underflows.
DEEPZ_HD double parabola_vertex(double x0, double y0, double x1, double y1, double x2, double y2) {
  const double d1 = (y1 - y0) / (x1 - x0);
  const double d2 = (y2 - y1) / (x2 - x1);
  const double a = (d2 - d1) / (x2 - x0);
  if (!(a < 0.0)) return x1;
  return 0.5 * (x0 + x1) - d1 / (2.0 * a);
}

}  // namespace line_search_detail

// Size (in doubles) of the scratch buffer line_search_spectrum needs.
DEEPZ_HD std::int64_t line_search_scratch_size(std::int64_t m, std::int64_t n_lines) {
  return m + 2 * n_lines;
}

// Refine the redshift z0 of one spectrum.
//   wave[m]        increasing pixel centres (Angstrom), m >= 3
//   flux[m]        continuum-subtracted flux; ivar[m] its inverse variance or nullptr
//   rest, strength, sign [n_lines]   rest wavelength, ordering strength, +1 emission / -1
//   absorption order[n_lines] the search order (indices into the line arrays, strongest first)
//   scratch        line_search_scratch_size(m, n_lines) doubles
// Outputs (in the caller's line order): out_wave, out_snr [n_lines];
// out_z, out_found, out_quality one value each.
template <class T>
DEEPZ_HD void line_search_spectrum(const double* wave, const T* flux, const T* ivar, std::int64_t m,
                                   double z0, const double* rest, const double* strength,
                                   const double* sign, const std::int64_t* order,
                                   std::int64_t n_lines, const LineSearchParams& p, double* scratch,
                                   T* out_z, T* out_wave, T* out_snr, std::int64_t* out_found,
                                   T* out_quality) {
  namespace d = line_search_detail;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  double* found_z = scratch + m;            // per found line, in search order
  double* found_w = scratch + m + n_lines;  // its weight S/N^2

  for (std::int64_t l = 0; l < n_lines; ++l) {
    out_wave[l] = static_cast<T>(nan);
    out_snr[l] = static_cast<T>(nan);
  }
  double sum_w = 0.0, sum_wz = 0.0, zbar = z0;
  double strength_searched = 0.0, strength_found = 0.0;
  std::int64_t n_found = 0;

  for (std::int64_t k = 0; k < n_lines; ++k) {
    const std::int64_t l = order[k];
    const double r = rest[l], sg = sign[l];
    const double lo = r * (1.0 + z0 - p.window), hi = r * (1.0 + z0 + p.window);
    const std::int64_t a = d::first_at_or_above(wave, m, lo);
    const std::int64_t b = d::first_above(wave, m, hi);
    if (a >= b) continue;  // the window misses the grid: not searched
    strength_searched += strength[l];

    // Noise of the window when no ivar is given: 1.4826 MAD of the usable
    // pixels (the RMS if the MAD is 0, i.e. in a noiseless window).
    double sigma = 0.0;
    if (ivar == nullptr) {
      std::int64_t n = 0;
      for (std::int64_t i = a; i < b; ++i)
        if (d::usable(flux, ivar, i)) scratch[n++] = sg * static_cast<double>(flux[i]);
      if (n == 0) continue;
      d::heap_sort(scratch, n);
      const double med = d::sorted_median(scratch, n);
      for (std::int64_t j = 0; j < n; ++j) scratch[j] = std::fabs(scratch[j] - med);
      d::heap_sort(scratch, n);
      sigma = d::kMadToSigma * d::sorted_median(scratch, n);
      if (!(sigma > 0.0)) {
        double s2 = 0.0;
        for (std::int64_t i = a; i < b; ++i) {
          if (!d::usable(flux, ivar, i)) continue;
          const double v = sg * static_cast<double>(flux[i]);
          s2 += v * v;
        }
        sigma = std::sqrt(s2 / static_cast<double>(n));
      }
    }

    // Two sweeps over the candidates (usable local maxima in [a, b)): the
    // first finds the tallest S/N, the second the lowest cost.
    double max_snr = 0.0;
    bool any = false, taken = false;
    double best_cost = 0.0, best_x = 0.0, best_z = 0.0, best_snr = 0.0;
    for (int sweep = 0; sweep < 2; ++sweep) {
      if (sweep == 1 && !any) break;
      std::int64_t left = d::prev_usable(flux, ivar, a);
      for (std::int64_t i = a; i < b; ++i) {
        if (!d::usable(flux, ivar, i)) continue;
        const std::int64_t right = d::next_usable(flux, ivar, m, i);
        const std::int64_t li = left;
        left = i;
        if (li < 0 || right >= m) continue;
        const double yl = sg * static_cast<double>(flux[li]);
        const double yc = sg * static_cast<double>(flux[i]);
        const double yr = sg * static_cast<double>(flux[right]);
        if (!(yc > yl && yc >= yr)) continue;
        double snr;
        if (ivar != nullptr) {
          snr = yc * std::sqrt(static_cast<double>(ivar[i]));
        } else {
          snr = sigma > 0.0 ? yc / sigma : 0.0;
        }
        if (sweep == 0) {
          if (!any || snr > max_snr) max_snr = snr;
          any = true;
          continue;
        }
        const double x = d::parabola_vertex(wave[li], yl, wave[i], yc, wave[right], yr);
        const double zc = x / r - 1.0;
        const double u = std::fabs(zc - z0) / p.window;
        const double dist = u * u;
        const double height = max_snr > 0.0 ? 1.0 - (snr > 0.0 ? snr : 0.0) / max_snr : 1.0;
        double spacing = 0.0;
        if (n_found > 0) {
          const double dz_pix = 0.5 * (wave[i + 1] - wave[i - 1]) / r;
          spacing = std::fabs(zc - zbar) / dz_pix;
        }
        const double cost = p.w_dist * dist + p.w_height * height + p.w_spacing * spacing;
        if (!taken || cost < best_cost) {  // ties keep the bluer candidate
          taken = true;
          best_cost = cost;
          best_x = x;
          best_z = zc;
          best_snr = snr;
        }
      }
    }
    if (!taken) continue;  // searched, but no candidate: S/N stays NaN

    out_snr[l] = static_cast<T>(best_snr);
    if (best_snr >= p.snr_min && best_snr > 0.0) {
      out_wave[l] = static_cast<T>(best_x);
      const double w = best_snr * best_snr;
      found_z[n_found] = best_z;
      found_w[n_found] = w;
      ++n_found;
      sum_w += w;
      sum_wz += w * best_z;
      zbar = sum_wz / sum_w;
      strength_found += strength[l];
    }
  }

  *out_found = n_found;
  if (n_found == 0) {
    *out_z = static_cast<T>(z0);
    *out_quality = static_cast<T>(0.0);
    return;
  }
  // Quality = (strength found / strength searched) * (1 - scatter / window),
  // the scatter being the S/N^2-weighted RMS of the lines' z about zbar.
  double s2 = 0.0;
  for (std::int64_t j = 0; j < n_found; ++j) {
    const double dz = found_z[j] - zbar;
    s2 += found_w[j] * (dz * dz);
  }
  const double scatter = std::sqrt(s2 / sum_w);
  double agree = 1.0 - scatter / p.window;
  if (agree < 0.0) agree = 0.0;
  *out_z = static_cast<T>(zbar);
  *out_quality = static_cast<T>((strength_found / strength_searched) * agree);
}

}  // namespace deepz
