// deepz/add_noise.hpp -- reproducible Gaussian and Poisson noise.
//
// add_noise draws the noise of pixel p of spectrum n from Philox-4x32-10
// (philox.hpp) keyed by the seed, with the global spectrum index
// g = offset + n in the counter. The noise of a pixel is therefore a pure
// function of (seed, g, p): it does not depend on the batch size, the thread
// count, the other pixels (NaN or not) or the device.
//
// Counter layout (block b = p / 4, lane j = p % 4, word w):
//   gaussian  w = 0: one draw (x0, x1, x2, x3) for the block; Box-Muller on
//             (x0, x1) gives pixels 4b, 4b+1 (r cos, r sin), on (x2, x3)
//             pixels 4b+2, 4b+3.
//   poisson   w = 1 + 4 t + j: attempt t of lane j, two float64 uniforms
//             U = u(x0, x1), V = u(x2, x3). Exact inversion (lambda < 10) uses
//             U of attempt 0; PTRS (lambda >= 10) uses (U, V) of attempt t.
//
// Bit reproducibility. The GPU twin must give the same bits, so nothing here
// calls libm's log/exp/sin/cos (glibc and CUDA round differently): the
// functions in namespace rmath are explicit polynomials evaluated with IEEE
// +, -, *, / and sqrt (all correctly rounded) in a fixed order, and floor,
// fabs and bit manipulation (exact). No operation may be contracted into an
// FMA: the host build uses -ffp-contract=off, and under nvcc the wrappers
// below map to the __f*_rn / __d*_rn intrinsics, which are never contracted.
// tests/reference_add_noise.py evaluates the same expressions in numpy and the
// tests assert bit equality.
//
// Accuracy (tests/test_add_noise.py measures it against numpy/mpmath): log_f32
// and sincos2pi_f32 within 2 ulp over (0, 1), the float64 ones within 2 ulp.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "grid.hpp"  // DEEPZ_HD
#include "philox.hpp"

namespace deepz {
namespace rmath {

// ---- IEEE operations, round to nearest, never fused -------------------------
#if defined(__CUDA_ARCH__)
DEEPZ_HD float add(float a, float b) {
  return __fadd_rn(a, b);
}
DEEPZ_HD float sub(float a, float b) {
  return __fsub_rn(a, b);
}
DEEPZ_HD float mul(float a, float b) {
  return __fmul_rn(a, b);
}
DEEPZ_HD float div(float a, float b) {
  return __fdiv_rn(a, b);
}
DEEPZ_HD float sqrt(float a) {
  return __fsqrt_rn(a);
}
DEEPZ_HD float floor(float a) {
  return floorf(a);
}
DEEPZ_HD double add(double a, double b) {
  return __dadd_rn(a, b);
}
DEEPZ_HD double sub(double a, double b) {
  return __dsub_rn(a, b);
}
DEEPZ_HD double mul(double a, double b) {
  return __dmul_rn(a, b);
}
DEEPZ_HD double div(double a, double b) {
  return __ddiv_rn(a, b);
}
DEEPZ_HD double sqrt(double a) {
  return __dsqrt_rn(a);
}
DEEPZ_HD double floor(double a) {
  return ::floor(a);
}
DEEPZ_HD double abs(double a) {
  return ::fabs(a);
}
DEEPZ_HD std::uint32_t bits(float x) {
  return __float_as_uint(x);
}
DEEPZ_HD float f32_from_bits(std::uint32_t u) {
  return __uint_as_float(u);
}
DEEPZ_HD std::uint64_t bits(double x) {
  return static_cast<std::uint64_t>(__double_as_longlong(x));
}
DEEPZ_HD double f64_from_bits(std::uint64_t u) {
  return __longlong_as_double(static_cast<long long>(u));
}
#else
inline float add(float a, float b) {
  return a + b;
}
inline float sub(float a, float b) {
  return a - b;
}
inline float mul(float a, float b) {
  return a * b;
}
inline float div(float a, float b) {
  return a / b;
}
inline float sqrt(float a) {
  return std::sqrt(a);
}
inline float floor(float a) {
  return std::floor(a);
}
inline double add(double a, double b) {
  return a + b;
}
inline double sub(double a, double b) {
  return a - b;
}
inline double mul(double a, double b) {
  return a * b;
}
inline double div(double a, double b) {
  return a / b;
}
inline double sqrt(double a) {
  return std::sqrt(a);
}
inline double floor(double a) {
  return std::floor(a);
}
inline double abs(double a) {
  return std::fabs(a);
}
inline std::uint32_t bits(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}
inline float f32_from_bits(std::uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}
inline std::uint64_t bits(double x) {
  std::uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}
inline double f64_from_bits(std::uint64_t u) {
  double x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}
#endif

// Finite test on the exponent bits (false for NaN and +-inf).
DEEPZ_HD bool finite(float x) {
  return (bits(x) & 0x7f800000u) != 0x7f800000u;
}
DEEPZ_HD bool finite(double x) {
  return (bits(x) & 0x7ff0000000000000ull) != 0x7ff0000000000000ull;
}

// c ? a : b on the bits. GCC keeps a floating-point `?:` as a branch (it
// will not if-convert under -ftrapping-math), which stops vectorisation; this
// form is plain integer logic on every compiler.
DEEPZ_HD float select(bool c, float a, float b) {
  const std::uint32_t m = 0u - static_cast<std::uint32_t>(c);
  return f32_from_bits((bits(a) & m) | (bits(b) & ~m));
}
DEEPZ_HD double select(bool c, double a, double b) {
  const std::uint64_t m = 0ull - static_cast<std::uint64_t>(c);
  return f64_from_bits((bits(a) & m) | (bits(b) & ~m));
}

// Horner's rule c0 + x (c1 + x (c2 + ...)), innermost first.
template <class T>
DEEPZ_HD T horner(T /*x*/, T c) {
  return c;
}
template <class T, class... Rest>
DEEPZ_HD T horner(T x, T c, Rest... rest) {
  return add(c, mul(x, horner(x, static_cast<T>(rest)...)));
}

// ---- natural logarithm ------------------------------------------------------
// x = 2^e m with m in [sqrt(1/2), sqrt(2)), f = m - 1 (exact), s = f / (2 + f):
//   log(1 + f) = 2 atanh(s) = f - (hfsq - s (hfsq + R)),  hfsq = f^2 / 2,
//   R = sum_{n>=1} 2 s^(2n) / (2n + 1)  (the atanh series, |s| <= 0.1716),
//   log x = e ln2_hi - ((hfsq - (s (hfsq + R) + e ln2_lo)) - f),
// the fdlibm arrangement, with Taylor coefficients (truncation below 1e-9 ulp
// of float32 and 0.01 ulp of float64). e ln2_hi is exact (ln2_hi has 12 / 21
// significant bits).
constexpr float kLn2HiF = 0x1.62ep-1f;
constexpr float kLn2LoF = 0x1.0bfbe8p-15f;
constexpr float kSqrt2F = 0x1.6a09e6p+0f;
constexpr double kLn2Hi = 0x1.62e42p-1;
constexpr double kLn2Lo = 0x1.fdf473de6af28p-22;
constexpr double kSqrt2 = 0x1.6a09e667f3bcdp+0;
constexpr double kInvLn2 = 0x1.71547652b82fep+0;

// log(1 + f) + e ln 2 for the reduced f in [sqrt(1/2) - 1, sqrt(2) - 1].
DEEPZ_HD float log_reduced(float f, float e) {
  const float hfsq = mul(mul(0.5f, f), f);
  const float s = div(f, add(2.0f, f));
  const float z = mul(s, s);
  const float r = mul(
      z, horner(z, 0x1.555556p-1f, 0x1.99999ap-2f, 0x1.24924ap-2f, 0x1.c71c72p-3f, 0x1.745d18p-3f));
  return sub(mul(e, kLn2HiF), sub(sub(hfsq, add(mul(s, add(hfsq, r)), mul(e, kLn2LoF))), f));
}
DEEPZ_HD double log_reduced(double f, double e) {
  const double hfsq = mul(mul(0.5, f), f);
  const double s = div(f, add(2.0, f));
  const double z = mul(s, s);
  const double r = mul(z, horner(z, 0x1.5555555555555p-1, 0x1.999999999999ap-2,
                                 0x1.2492492492492p-2, 0x1.c71c71c71c71cp-3, 0x1.745d1745d1746p-3,
                                 0x1.3b13b13b13b14p-3, 0x1.1111111111111p-3, 0x1.e1e1e1e1e1e1ep-4,
                                 0x1.af286bca1af28p-4, 0x1.8618618618618p-4));
  return sub(mul(e, kLn2Hi), sub(sub(hfsq, add(mul(s, add(hfsq, r)), mul(e, kLn2Lo))), f));
}

// log x for a positive, finite, normal x (the hot path: no special cases).
// `eadj` is added to the exponent (used to bring subnormals up).
DEEPZ_HD float log_normal(float x, int eadj = 0) {
  const std::uint32_t b = bits(x);
  const float m1 = f32_from_bits((b & 0x007fffffu) | 0x3f800000u);  // [1, 2)
  const float half = mul(0.5f, m1);  // computed always: a select, no branch
  const bool big = m1 > kSqrt2F;
  const float m = select(big, half, m1);
  const int e = static_cast<int>(b >> 23) - 127 + (big ? 1 : 0) + eadj;
  return log_reduced(sub(m, 1.0f), static_cast<float>(e));
}
DEEPZ_HD double log_normal(double x, int eadj = 0) {
  const std::uint64_t b = bits(x);
  const double m1 = f64_from_bits((b & 0x000fffffffffffffull) | 0x3ff0000000000000ull);
  const double half = mul(0.5, m1);
  const bool big = m1 > kSqrt2;
  const double m = select(big, half, m1);
  const int e = static_cast<int>(b >> 52) - 1023 + (big ? 1 : 0) + eadj;
  return log_reduced(sub(m, 1.0), static_cast<double>(e));
}

// log x for any float: NaN for x < 0 or NaN, -inf at 0, +inf at +inf.
DEEPZ_HD float log(float x) {
  if (!(x > 0.0f)) return x == 0.0f ? f32_from_bits(0xff800000u) : f32_from_bits(0x7fc00000u);
  if (!(x <= 0x1.fffffep127f)) return x;
  if (x < 0x1p-126f) return log_normal(mul(x, 0x1p25f), -25);
  return log_normal(x);
}
DEEPZ_HD double log(double x) {
  if (!(x > 0.0)) {
    return x == 0.0 ? f64_from_bits(0xfff0000000000000ull) : f64_from_bits(0x7ff8000000000000ull);
  }
  if (!(x <= 0x1.fffffffffffffp1023)) return x;
  if (x < 0x1p-1022) return log_normal(mul(x, 0x1p54), -54);
  return log_normal(x);
}

// log(1 + x) for x > -1, Goldberg's trick: with u = 1 + x rounded,
// log1p(x) = x log(u) / (u - 1) (exactly x when u == 1).
DEEPZ_HD double log1p(double x) {
  const double u = add(1.0, x);
  if (u == 1.0) return x;
  return div(mul(x, log(u)), sub(u, 1.0));
}

// ---- exponential --------------------------------------------------------------
// x = k ln2 + r, k = floor(x / ln2 + 1/2), r = (x - k ln2_hi) - k ln2_lo,
// |r| <= ln2 / 2; exp(r) by its Taylor series to r^13 (truncation < 0.05 ulp),
// then times 2^k built from bits. Overflows to +inf above 709.78, 0 below
// -745.2.
DEEPZ_HD double exp(double x) {
  if (x != x) return x;
  if (x > 0x1.62e42fefa39efp+9) return f64_from_bits(0x7ff0000000000000ull);
  if (x < -745.2) return 0.0;
  const double kf = floor(add(mul(x, kInvLn2), 0.5));
  const double r = sub(sub(x, mul(kf, kLn2Hi)), mul(kf, kLn2Lo));
  const double p = horner(r, 1.0, 1.0, 0x1p-1, 0x1.5555555555555p-3, 0x1.5555555555555p-5,
                          0x1.1111111111111p-7, 0x1.6c16c16c16c17p-10, 0x1.a01a01a01a01ap-13,
                          0x1.a01a01a01a01ap-16, 0x1.71de3a556c734p-19, 0x1.27e4fb7789f5cp-22,
                          0x1.ae64567f544e4p-26, 0x1.1eed8eff8d898p-29, 0x1.6124613a86d09p-33);
  const int k = static_cast<int>(kf);
  if (k > -1022) {
    // 2^k; k == 1024 only for x just below the overflow bound: split it.
    if (k > 1023)
      return mul(mul(p, 2.0), f64_from_bits(static_cast<std::uint64_t>(k - 1 + 1023) << 52));
    return mul(p, f64_from_bits(static_cast<std::uint64_t>(k + 1023) << 52));
  }
  // subnormal result: scale in two steps
  return mul(mul(p, f64_from_bits(static_cast<std::uint64_t>(k + 60 + 1023) << 52)), 0x1p-60);
}

// ---- sine and cosine of a fraction of a turn ------------------------------------
// sin and cos of (pi/2) (q + r) for |r| <= 1/2 (quarter turns): the Taylor
// series of sin(pi/2 r) and cos(pi/2 r) in r (|pi/2 r| <= pi/4; truncation
// below 0.05 ulp), then the quadrant q mod 4 by symmetry (exact).
DEEPZ_HD void sincos_quarter(float r, int q, float* s, float* c) {
  const float z = mul(r, r);
  const float sr = mul(r, horner(z, 0x1.921fb6p+0f, -0x1.4abbcep-1f, 0x1.466bc6p-4f,
                                 -0x1.32d2ccp-8f, 0x1.507834p-13f));
  const float cr = horner(z, 1.0f, -0x1.3bd3ccp+0f, 0x1.03c1f0p-2f, -0x1.55d3c8p-6f,
                          0x1.e1f506p-11f, -0x1.a6d1f2p-16f);
  q &= 3;
  const float ss = select((q & 1) != 0, cr, sr);
  const float cc = select((q & 1) != 0, sr, cr);
  *s = select(q >= 2, -ss, ss);
  *c = select((q == 1) | (q == 2), -cc, cc);
}
DEEPZ_HD void sincos_quarter(double r, int q, double* s, double* c) {
  const double z = mul(r, r);
  const double sr =
      mul(r, horner(z, 0x1.921fb54442d18p+0, -0x1.4abbce625be53p-1, 0x1.466bc6775aae2p-4,
                    -0x1.32d2cce62bd86p-8, 0x1.50783487ee782p-13, -0x1.e3074fde8871fp-19,
                    0x1.e8f434d018d63p-25, -0x1.6fadb9f155744p-31, 0x1.aaec32af93359p-38));
  const double cr = horner(z, 1.0, -0x1.3bd3cc9be45dep+0, 0x1.03c1f081b5ac4p-2,
                           -0x1.55d3c7e3cbffap-6, 0x1.e1f506891babbp-11, -0x1.a6d1f2a204a8cp-16,
                           0x1.f9d38a3763cc3p-22, -0x1.b6e24f44b128fp-28, 0x1.20c62c2f2d7f5p-34);
  q &= 3;
  const double ss = select((q & 1) != 0, cr, sr);
  const double cc = select((q & 1) != 0, sr, cr);
  *s = select(q >= 2, -ss, ss);
  *c = select((q == 1) | (q == 2), -cc, cc);
}

// sin(2 pi u) and cos(2 pi u) for |u| < 2^20: 4u = q + r with q the nearest
// integer, both steps exact.
template <class T>
DEEPZ_HD void sincos2pi(T u, T* s, T* c) {
  const T y = mul(static_cast<T>(4), u);
  const T qf = floor(add(y, static_cast<T>(0.5)));
  sincos_quarter(sub(y, qf), static_cast<int>(qf), s, c);
}

}  // namespace rmath

// ---- normal deviates ------------------------------------------------------------
// Box-Muller on two words: u1 = uniform_f32(a), u2 = uniform_f32(b),
// r = sqrt(-2 log u1), (z0, z1) = (r cos 2 pi u2, r sin 2 pi u2).
// The quarter-turn reduction of u2 = (k + 1/2) 2^-23 is done on the integer k:
// 4 u2 = q + (j + 1/2) 2^-21 with q = (k + 2^20) >> 21 -- the same q and r as
// rmath::sincos2pi computes in floating point, without floor.
// float32: all in float32. float64: the same uniforms, log/sqrt/sincos in
// float64, so the float64 normals are the float32 ones computed more exactly.

// -2 log u1, the squared radius.
DEEPZ_HD float box_muller_r2(std::uint32_t a, float /*tag*/) {
  return rmath::mul(-2.0f, rmath::log_normal(uniform_f32(a)));
}
DEEPZ_HD double box_muller_r2(std::uint32_t a, double /*tag*/) {
  return rmath::mul(-2.0, rmath::log_normal(static_cast<double>(uniform_f32(a))));
}

// sin and cos of 2 pi u2.
template <class T>
DEEPZ_HD void box_muller_angle(std::uint32_t b, T* s, T* c) {
  const std::int32_t k = static_cast<std::int32_t>(b >> 9);
  const std::int32_t q = (k + (1 << 20)) >> 21;
  const std::int32_t j = k - q * (1 << 21);
  const float rq = rmath::mul(rmath::add(static_cast<float>(j), 0.5f), 0x1p-21f);  // exact
  rmath::sincos_quarter(static_cast<T>(rq), q, s, c);
}

// The pair of standard normals of words (a, b).
template <class T>
DEEPZ_HD void normal_pair(std::uint32_t a, std::uint32_t b, T* z0, T* z1) {
  const T r = rmath::sqrt(box_muller_r2(a, T(0)));
  T s, c;
  box_muller_angle(b, &s, &c);
  *z0 = rmath::mul(r, c);
  *z1 = rmath::mul(r, s);
}

// ---- Poisson deviates -------------------------------------------------------------
constexpr double kPoissonPtrsMin = 10.0;   // inversion below, PTRS from here up
constexpr double kPoissonLamMax = 0x1p52;  // counts stay exact integers in float64

// log P(k; lam) for lam >= 10 and an integer-valued k >= 0 (PTRS's test).
// k < 10: k log lam - lam - log k! with k! exact. k >= 10: Stirling's series
// log k! = k log k - k + log(2 pi k) / 2 + S(k), S = 1/12k - 1/360k^3 +
// 1/1260k^5 - 1/1680k^7, rearranged around delta = (k - lam) / lam so that no
// term of size lam log lam is cancelled:
//   log P = -(k log1p(delta) - (k - lam)) - log(2 pi k) / 2 - S(k).
DEEPZ_HD double poisson_logpmf(double k, double lam, double loglam) {
  using namespace rmath;
  if (k < 10.0) {
    double fact = 1.0;
    for (double i = 2.0; i <= k; i = add(i, 1.0)) fact = mul(fact, i);
    return sub(sub(mul(k, loglam), lam), log(fact));
  }
  const double d = sub(k, lam);
  const double t = sub(mul(k, log1p(div(d, lam))), d);
  const double ik = div(1.0, k);
  const double st = mul(ik, horner(mul(ik, ik), 0x1.5555555555555p-4, -0x1.6c16c16c16c17p-9,
                                   0x1.a01a01a01a01ap-11, -0x1.3813813813814p-11));
  return sub(sub(-t, mul(0.5, log(mul(0x1.921fb54442d18p+2, k)))), st);
}

// A Poisson count (as a double) with mean lam, drawn from lane `lane` of
// pixel block `block` of spectrum `index`. NaN when lam is negative, NaN or
// above kPoissonLamMax (the Python layer refuses those first).
//   lam < 10: inversion, k = min{k : U <= F(k)} with the pmf by recurrence.
//   lam >= 10: Hormann's PTRS (transformed rejection with squeeze, W. Hormann,
//     "The transformed rejection method for generating Poisson random
//     variables", Insurance: Math. & Econ. 12, 1993), as in numpy.
DEEPZ_HD double poisson_count(double lam, std::uint64_t seed, std::uint32_t block,
                              std::uint32_t lane, std::uint64_t index) {
  using namespace rmath;
  if (!(lam >= 0.0) || !(lam <= kPoissonLamMax)) return f64_from_bits(0x7ff8000000000000ull);
  if (lam == 0.0) return 0.0;
  if (lam < kPoissonPtrsMin) {
    const Philox4x32 x = philox_draw(seed, block, 1u + lane, index);
    const double u = uniform_f64(x.v[0], x.v[1]);
    double p = exp(-lam), cdf = p, k = 0.0;
    while (u > cdf) {
      k = add(k, 1.0);
      p = div(mul(p, lam), k);
      const double next = add(cdf, p);
      if (next == cdf) break;  // the tail no longer adds: stop
      cdf = next;
    }
    return k;
  }
  const double slam = sqrt(lam);
  const double loglam = log(lam);
  const double b = add(0.931, mul(2.53, slam));
  const double a = add(-0.059, mul(0.02483, b));
  const double log_invalpha = log(add(1.1239, div(1.1328, sub(b, 3.4))));
  const double vr = sub(0.9277, div(3.6224, sub(b, 2.0)));
  const double two_a = mul(2.0, a);
  for (std::uint32_t t = 0; t < (1u << 30) - 1u; ++t) {
    const Philox4x32 x = philox_draw(seed, block, 1u + 4u * t + lane, index);
    const double uu = sub(uniform_f64(x.v[0], x.v[1]), 0.5);
    const double v = uniform_f64(x.v[2], x.v[3]);
    const double us = sub(0.5, abs(uu));
    const double k = floor(add(add(mul(add(div(two_a, us), b), uu), lam), 0.43));
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0.0 || (us < 0.013 && v > us)) continue;
    const double lhs = sub(add(log(v), log_invalpha), log(add(div(a, mul(us, us)), b)));
    if (lhs <= poisson_logpmf(k, lam, loglam)) return k;
  }
  return floor(lam);  // not reached: an attempt is accepted with probability > 0.9
}

// ---- the kernels -----------------------------------------------------------------
enum class NoiseKind : int { gaussian = 0, poisson = 1 };

// One pixel of Gaussian noise from its standard normal z: noisy = f + s z,
// ivar = 1 / s^2 (in double, then rounded to T); a non-finite f is copied
// with ivar 0.
template <class T>
DEEPZ_HD void gaussian_noise_pixel(T f, T s, T z, T* noisy, T* ivar) {
  const double sd = static_cast<double>(s);
  const T iv = static_cast<T>(rmath::div(1.0, rmath::mul(sd, sd)));
  const T y = rmath::add(f, rmath::mul(s, z));
  const bool ok = rmath::finite(f);
  *noisy = rmath::select(ok, y, f);
  *ivar = rmath::select(ok, iv, T(0));
}

// Gaussian noise on pixel block b (pixels 4b .. 4b+3, those < m) of one
// spectrum with global index `index`: one Philox draw, two normal pairs.
// The CUDA twin runs one block per thread; gaussian_noise_row computes the
// same values for a whole row (the same operations, staged for the CPU's
// vector units).
template <class T>
DEEPZ_HD void gaussian_noise_block(const T* flux, const T* sigma, std::int64_t sigma_step,
                                   std::int64_t m, std::uint64_t seed, std::uint64_t index,
                                   std::int64_t b, T* noisy, T* ivar) {
  const Philox4x32 x = philox_draw(seed, static_cast<std::uint32_t>(b), 0u, index);
  T z[4];
  normal_pair(x.v[0], x.v[1], &z[0], &z[1]);
  normal_pair(x.v[2], x.v[3], &z[2], &z[3]);
  const std::int64_t p0 = 4 * b;
  for (int i = 0; i < 4; ++i) {
    const std::int64_t p = p0 + i;
    if (p >= m) break;
    gaussian_noise_pixel(flux[p], sigma[p * sigma_step], z[i], noisy + p, ivar + p);
  }
}

// One pixel p of Poisson noise: noisy = s Poisson(f / s), ivar = 1 / (s
// max(f, s)); a non-finite f is copied with ivar 0.
template <class T>
DEEPZ_HD void poisson_noise_pixel(T f, T sigma, std::uint64_t seed, std::uint64_t index,
                                  std::int64_t p, T* noisy, T* ivar) {
  if (!rmath::finite(f)) {
    *noisy = f;
    *ivar = T(0);
    return;
  }
  const double s = static_cast<double>(sigma);
  const double fd = static_cast<double>(f);
  const double k = poisson_count(rmath::div(fd, s), seed, static_cast<std::uint32_t>(p >> 2),
                                 static_cast<std::uint32_t>(p & 3), index);
  *noisy = static_cast<T>(rmath::mul(s, k));
  *ivar = static_cast<T>(rmath::div(1.0, rmath::mul(s, fd > s ? fd : s)));
}

// Gaussian noise on one spectrum of m pixels with global index `index`:
// noisy = flux + sigma z, ivar = 1 / sigma^2; a non-finite flux is copied and
// gets ivar 0. sigma[p * sigma_step] is the sigma of pixel p (step 0: one
// sigma for the spectrum).
template <class T>
void gaussian_noise_row(const T* flux, const T* sigma, std::int64_t sigma_step, std::int64_t m,
                        std::uint64_t seed, std::uint64_t index, T* noisy, T* ivar) {
  // normal_pair, split into loops the compiler can vectorise (the square
  // root stays scalar: libm's errno semantics keep GCC from vectorising it).
  constexpr std::int64_t kBlocks = 64;  // blocks per chunk: 256 pixels
  std::uint32_t words[4 * kBlocks];
  T r2[2 * kBlocks], sn[2 * kBlocks], cs[2 * kBlocks], z[4 * kBlocks];
  const std::int64_t nblocks = (m + 3) / 4;
  for (std::int64_t b0 = 0; b0 < nblocks; b0 += kBlocks) {
    const std::int64_t nb = nblocks - b0 < kBlocks ? nblocks - b0 : kBlocks;
    for (std::int64_t i = 0; i < nb; ++i) {
      const Philox4x32 x = philox_draw(seed, static_cast<std::uint32_t>(b0 + i), 0u, index);
      words[4 * i + 0] = x.v[0];
      words[4 * i + 1] = x.v[1];
      words[4 * i + 2] = x.v[2];
      words[4 * i + 3] = x.v[3];
    }
    for (std::int64_t i = 0; i < 2 * nb; ++i) r2[i] = box_muller_r2(words[2 * i], T(0));
    for (std::int64_t i = 0; i < 2 * nb; ++i) box_muller_angle(words[2 * i + 1], &sn[i], &cs[i]);
    for (std::int64_t i = 0; i < 2 * nb; ++i) {
      const T r = rmath::sqrt(r2[i]);
      z[2 * i] = rmath::mul(r, cs[i]);
      z[2 * i + 1] = rmath::mul(r, sn[i]);
    }
    const std::int64_t p0 = 4 * b0;
    const std::int64_t np = m - p0 < 4 * nb ? m - p0 : 4 * nb;
    for (std::int64_t i = 0; i < np; ++i) {
      const std::int64_t p = p0 + i;
      gaussian_noise_pixel(flux[p], sigma[p * sigma_step], z[i], noisy + p, ivar + p);
    }
  }
}

// Poisson noise on one spectrum: noisy = s Poisson(flux / s), with s the flux
// of one count, ivar = 1 / (s max(flux, s)); non-finite flux copied, ivar 0.
template <class T>
void poisson_noise_row(const T* flux, const T* sigma, std::int64_t sigma_step, std::int64_t m,
                       std::uint64_t seed, std::uint64_t index, T* noisy, T* ivar) {
  for (std::int64_t p = 0; p < m; ++p)
    poisson_noise_pixel(flux[p], sigma[p * sigma_step], seed, index, p, noisy + p, ivar + p);
}

// Noise on spectra [begin, end) of an (n, m) batch. sigma is (sigma_rows,
// sigma_cols) with sigma_rows in {1, n} and sigma_cols in {1, m}, broadcast
// (never expanded). Spectrum i has global index offset + i.
template <class T>
void add_noise_rows(const T* flux, std::int64_t m, const T* sigma, std::int64_t sigma_rows,
                    std::int64_t sigma_cols, std::uint64_t seed, std::uint64_t offset,
                    NoiseKind kind, T* noisy, T* ivar, std::int64_t begin, std::int64_t end) {
  const std::int64_t step = sigma_cols > 1 ? 1 : 0;
  for (std::int64_t i = begin; i < end; ++i) {
    const T* sig = sigma + (sigma_rows > 1 ? i * sigma_cols : 0);
    const std::uint64_t index = offset + static_cast<std::uint64_t>(i);
    if (kind == NoiseKind::gaussian) {
      gaussian_noise_row(flux + i * m, sig, step, m, seed, index, noisy + i * m, ivar + i * m);
    } else {
      poisson_noise_row(flux + i * m, sig, step, m, seed, index, noisy + i * m, ivar + i * m);
    }
  }
}

}  // namespace deepz
