// Bindings of the noise kernel: deepz._core.add_noise, plus private hooks that
// expose Philox and the reproducible math functions to the tests.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include "deepz/cpu.hpp"
#include "deepz/add_noise.hpp"
#include "deepz/add_noise_simd.hpp"
#include "deepz/parallel.hpp"
#include "deepz/philox.hpp"

namespace py = pybind11;

namespace {

template <class T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

std::string shape_of(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + ")";
}

deepz::IsaSwitch& isa() {
  static deepz::IsaSwitch s;
  return s;
}

namespace ns = deepz::noise_simd;

#if DEEPZ_X86_DISPATCH
template <class T>
__attribute__((target("avx2"),
               flatten)) void rows_avx2(const T* flux, std::int64_t m, const T* sigma,
                                        std::int64_t srows, std::int64_t scols, std::uint64_t seed,
                                        std::uint64_t offset, deepz::NoiseKind kind, T* noisy,
                                        T* ivar, std::int64_t b, std::int64_t e) {
  ns::add_noise_rows<T, ns::Isa::avx2>(flux, m, sigma, srows, scols, seed, offset, kind, noisy,
                                       ivar, b, e);
}
constexpr ns::Isa kBaseline = ns::Isa::sse2;
#else
constexpr ns::Isa kBaseline = ns::Isa::scalar;
#endif

// Spectra [b, e): the AVX2 copy where the CPU has it (same bits either way).
template <class T>
void rows(const T* flux, std::int64_t m, const T* sigma, std::int64_t srows, std::int64_t scols,
          std::uint64_t seed, std::uint64_t offset, deepz::NoiseKind kind, T* noisy, T* ivar,
          std::int64_t b, std::int64_t e) {
#if DEEPZ_X86_DISPATCH
  if (isa().on)
    return rows_avx2<T>(flux, m, sigma, srows, scols, seed, offset, kind, noisy, ivar, b, e);
#endif
  ns::add_noise_rows<T, kBaseline>(flux, m, sigma, srows, scols, seed, offset, kind, noisy, ivar, b,
                                   e);
}

template <class T>
py::tuple add_noise(const Array<T>& flux, const Array<T>& sigma, std::uint64_t seed,
                    std::uint64_t offset, int kind, int threads) {
  if (flux.ndim() != 2) {
    throw std::invalid_argument("flux must have shape (N, M), got " + shape_of(flux));
  }
  const std::int64_t n = flux.shape(0), m = flux.shape(1);
  if (sigma.ndim() != 2 || (sigma.shape(0) != 1 && sigma.shape(0) != n) ||
      (sigma.shape(1) != 1 && sigma.shape(1) != m)) {
    throw std::invalid_argument("sigma must have shape (1 or " + std::to_string(n) + ", 1 or " +
                                std::to_string(m) + "), got " + shape_of(sigma));
  }
  if (kind != 0 && kind != 1) throw std::invalid_argument("kind must be 0 or 1");
  if (threads < 1) throw std::invalid_argument("threads must be >= 1");
  if (n > 0 &&
      offset > std::numeric_limits<std::uint64_t>::max() - static_cast<std::uint64_t>(n - 1)) {
    throw std::invalid_argument("offset + N must be below 2**64");
  }
  if (m > (std::int64_t{1} << 34)) throw std::invalid_argument("flux has more than 2**34 pixels");
  Array<T> noisy({n, m}), ivar({n, m});
  const T* f = flux.data();
  const T* s = sigma.data();
  const std::int64_t srows = sigma.shape(0), scols = sigma.shape(1);
  T* out = noisy.mutable_data();
  T* iv = ivar.mutable_data();
  const auto k = static_cast<deepz::NoiseKind>(kind);
  {
    py::gil_scoped_release release;
    deepz::parallel_for(n, threads, [&](std::int64_t b, std::int64_t e) {
      rows<T>(f, m, s, srows, scols, seed, offset, k, out, iv, b, e);
    });
  }
  return py::make_tuple(noisy, ivar);
}

// ---- test hooks ---------------------------------------------------------------------
Array<std::uint32_t> philox_hook(const Array<std::uint32_t>& ctr, const Array<std::uint32_t>& key) {
  if (ctr.ndim() != 2 || ctr.shape(1) != 4 || key.ndim() != 2 || key.shape(1) != 2 ||
      key.shape(0) != ctr.shape(0)) {
    throw std::invalid_argument("counter must be (n, 4) and key (n, 2)");
  }
  const std::int64_t n = ctr.shape(0);
  Array<std::uint32_t> out({n, std::int64_t{4}});
  const std::uint32_t* c = ctr.data();
  const std::uint32_t* k = key.data();
  std::uint32_t* o = out.mutable_data();
  for (std::int64_t i = 0; i < n; ++i) {
    deepz::Philox4x32 x{{c[4 * i], c[4 * i + 1], c[4 * i + 2], c[4 * i + 3]}};
    x = deepz::philox4x32_10(x, k[2 * i], k[2 * i + 1]);
    for (int j = 0; j < 4; ++j) o[4 * i + j] = x.v[j];
  }
  return out;
}

template <class T, class Fn>
Array<T> map1(const Array<T>& x, Fn fn) {
  Array<T> out(x.request().shape);
  const T* a = x.data();
  T* o = out.mutable_data();
  for (py::ssize_t i = 0; i < x.size(); ++i) o[i] = fn(a[i]);
  return out;
}

template <class T>
Array<T> log_hook(const Array<T>& x) {
  return map1<T>(x, [](T v) { return deepz::rmath::log(v); });
}

template <class T>
py::tuple sincos2pi_hook(const Array<T>& u) {
  Array<T> s(u.request().shape), c(u.request().shape);
  const T* a = u.data();
  T* so = s.mutable_data();
  T* co = c.mutable_data();
  for (py::ssize_t i = 0; i < u.size(); ++i) deepz::rmath::sincos2pi(a[i], so + i, co + i);
  return py::make_tuple(s, c);
}

Array<double> poisson_logpmf_hook(const Array<double>& k, double lam) {
  const double loglam = deepz::rmath::log(lam);
  return map1<double>(k, [&](double v) { return deepz::poisson_logpmf(v, lam, loglam); });
}

}  // namespace

void register_noise(py::module_& m) {
  const char* doc =
      "add_noise(flux (N, M), sigma (1|N, 1|M), seed, offset, kind 0|1, threads) -> (noisy, "
      "ivar). Private: use deepz.add_noise.";
  m.def("add_noise", &add_noise<float>, py::arg("flux"), py::arg("sigma"), py::arg("seed"),
        py::arg("offset"), py::arg("kind"), py::arg("threads"), doc);
  m.def("add_noise", &add_noise<double>, py::arg("flux"), py::arg("sigma"), py::arg("seed"),
        py::arg("offset"), py::arg("kind"), py::arg("threads"), doc);
  m.def(
      "_noise_isa", [](std::optional<std::string> set) { return isa().set(set); },
      py::arg("set") = py::none(),
      "Instruction set of the noise kernel ('avx2' or 'baseline'); set='baseline' turns the "
      "AVX2 copy off and 'auto' back on where the CPU has it (for tests: both give the same "
      "bits).");
  m.def("_philox4x32_10", &philox_hook, py::arg("counter"), py::arg("key"),
        "Philox-4x32-10 of each row of counter (n, 4) with key (n, 2), uint32 (test hook).");
  m.def("_rmath_log", &log_hook<float>, py::arg("x").noconvert());
  m.def("_rmath_log", &log_hook<double>, py::arg("x").noconvert());
  m.def("_rmath_sincos2pi", &sincos2pi_hook<float>, py::arg("u").noconvert());
  m.def("_rmath_sincos2pi", &sincos2pi_hook<double>, py::arg("u").noconvert());
  m.def("_rmath_exp", [](const Array<double>& x) {
    return map1<double>(x, [](double v) { return deepz::rmath::exp(v); });
  });
  m.def("_rmath_log1p", [](const Array<double>& x) {
    return map1<double>(x, [](double v) { return deepz::rmath::log1p(v); });
  });
  m.def("_poisson_logpmf", &poisson_logpmf_hook, py::arg("k"), py::arg("lam"),
        "log P(k; lam) as PTRS evaluates it, lam >= 10 (test hook).");
}
