// deepz/cuda/array.cpp -- reading __cuda_array_interface__; the Launch context.
#include "array.hpp"

#include <cuda_runtime_api.h>
#include <pybind11/stl.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "check.hpp"

namespace deepz::cuda {

namespace {

std::string type_name(py::handle obj) {
  return std::string(Py_TYPE(obj.ptr())->tp_name);
}

std::string tuple_str(const std::vector<std::int64_t>& v) {
  std::ostringstream os;
  os << '(';
  for (std::size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  if (v.size() == 1) os << ',';
  os << ')';
  return os.str();
}

std::vector<std::int64_t> int_tuple(py::handle seq, const std::string& what) {
  if (!py::isinstance<py::tuple>(seq) && !py::isinstance<py::list>(seq))
    throw py::type_error(what + " must be a tuple of ints, got " + type_name(seq));
  std::vector<std::int64_t> out;
  for (py::handle item : seq) {
    if (!py::isinstance<py::int_>(item))
      throw py::type_error(what + " must be a tuple of ints, got an item of type " +
                           type_name(item));
    out.push_back(item.cast<std::int64_t>());
  }
  return out;
}

std::int64_t normalise_stream(cudaStream_t s) {
  // The NULL stream is the legacy default stream in this module (built
  // without --default-stream per-thread): 0 and 1 name the same stream.
  const auto v = reinterpret_cast<std::intptr_t>(s);
  return v == 0 ? 1 : v;
}

void order_after(cudaStream_t producer, cudaStream_t consumer, const std::string& name) {
  cudaEvent_t ev = nullptr;
  DEEPZ_CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming),
                   "argument '" + name + "'");
  cudaError_t err = cudaEventRecord(ev, producer);
  if (err == cudaSuccess) err = cudaStreamWaitEvent(consumer, ev, 0);
  (void)cudaEventDestroy(ev);  // safe while pending: released once it completes
  check(err, "argument '" + name + "': waiting for the producer stream");
}

}  // namespace

std::int64_t DeviceArray::size() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

bool DeviceArray::c_contiguous() const {
  if (strides.empty()) return true;
  std::int64_t expected = itemsize;
  for (auto d : shape)
    if (d == 0) return true;
  for (int i = ndim() - 1; i >= 0; --i) {
    if (shape[i] != 1 && strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

std::string DeviceArray::dtype_name() const {
  const std::string bits = std::to_string(8 * itemsize);
  switch (kind) {
    case 'f':
      return "float" + bits;
    case 'i':
      return "int" + bits;
    case 'u':
      return "uint" + bits;
    case 'c':
      return "complex" + bits;
    case 'b':
      return "bool";
    default:
      return typestr;
  }
}

DeviceArray cuda_array(py::handle obj, const std::string& name) {
  py::object cai;
  try {
    cai = obj.attr("__cuda_array_interface__");
  } catch (py::error_already_set& e) {
    if (!e.matches(PyExc_AttributeError)) throw;
    throw py::type_error(name +
                         ": expected a CUDA array exposing __cuda_array_interface__ (a CuPy "
                         "array, a torch CUDA tensor, ...), got " +
                         type_name(obj));
  }
  if (!py::isinstance<py::dict>(cai))
    throw py::type_error(name + ": __cuda_array_interface__ must be a dict, got " + type_name(cai));
  const auto d = cai.cast<py::dict>();
  for (const char* key : {"data", "shape", "typestr"})
    if (!d.contains(key))
      throw py::type_error(name + ": __cuda_array_interface__ has no '" + key + "' entry");

  DeviceArray a;
  a.name = name;
  a.version = d.contains("version") ? d["version"].cast<int>() : 0;

  const py::object data = d["data"];
  if (!py::isinstance<py::tuple>(data) || py::len(data) != 2)
    throw py::type_error(name + ": __cuda_array_interface__['data'] must be (ptr, readonly)");
  const auto t = data.cast<py::tuple>();
  a.data = t[0].is_none() ? nullptr : reinterpret_cast<void*>(t[0].cast<std::uintptr_t>());
  a.readonly = t[1].cast<bool>();

  a.shape = int_tuple(d["shape"], name + ": __cuda_array_interface__['shape']");
  for (auto s : a.shape)
    if (s < 0) throw py::value_error(name + ": negative extent in shape " + tuple_str(a.shape));

  a.typestr = d["typestr"].cast<std::string>();
  if (a.typestr.size() < 3 || std::string("<>|=").find(a.typestr[0]) == std::string::npos)
    throw py::type_error(name + ": unreadable typestr '" + a.typestr + "'");
  a.kind = a.typestr[1];
  a.itemsize = std::atoi(a.typestr.c_str() + 2);
  if (a.itemsize <= 0) throw py::type_error(name + ": unreadable typestr '" + a.typestr + "'");
  if (a.typestr[0] == '>' && a.itemsize > 1)
    throw py::type_error(name + ": big-endian data ('" + a.typestr + "') is not supported");

  if (d.contains("strides") && !d["strides"].is_none()) {
    a.strides = int_tuple(d["strides"], name + ": __cuda_array_interface__['strides']");
    if (a.strides.size() != a.shape.size())
      throw py::value_error(name + ": strides " + tuple_str(a.strides) + " do not match shape " +
                            tuple_str(a.shape));
  }
  if (d.contains("mask") && !d["mask"].is_none())
    throw py::value_error(name + ": masked CUDA arrays are not supported (use ivar = 0 to mask)");
  if (d.contains("stream") && !d["stream"].is_none()) {
    const auto s = d["stream"].cast<std::intptr_t>();
    if (s == 0)
      throw py::value_error(name +
                            ": __cuda_array_interface__['stream'] is 0, which the "
                            "protocol forbids (1 = legacy default stream, 2 = "
                            "per-thread default stream)");
    a.stream = s;
  }
  if (a.data != nullptr && reinterpret_cast<std::uintptr_t>(a.data) % a.itemsize != 0)
    throw py::value_error(name + ": the data pointer is not aligned to its " +
                          std::to_string(a.itemsize) + "-byte elements");
  return a;
}

void require_c_contiguous(const DeviceArray& a) {
  if (a.c_contiguous()) return;
  std::vector<std::int64_t> expected(a.shape.size());
  std::int64_t s = a.itemsize;
  for (int i = a.ndim() - 1; i >= 0; --i) {
    expected[i] = s;
    s *= a.shape[i];
  }
  throw py::value_error(a.name + ": the GPU array must be C-contiguous, got strides " +
                        tuple_str(a.strides) + " bytes for shape " + tuple_str(a.shape) + " of " +
                        a.dtype_name() + " (expected " + tuple_str(expected) +
                        "); pass x.contiguous() (torch) or cupy.ascontiguousarray(x)");
}

void require_writable(const DeviceArray& a) {
  if (a.readonly) throw py::value_error(a.name + ": the GPU array is read-only");
}

void require_float(const DeviceArray& a) {
  if (!a.is<float>() && !a.is<double>())
    throw py::type_error(a.name + ": expected float32 or float64, got " + a.dtype_name());
}

int device_of(const DeviceArray& a) {
  cudaPointerAttributes attr{};
  DEEPZ_CUDA_CHECK(cudaPointerGetAttributes(&attr, a.data), "argument '" + a.name + "'");
  if (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged)
    throw py::value_error(a.name +
                          ": the pointer of its __cuda_array_interface__ is not CUDA "
                          "device or managed memory");
  return attr.device;
}

int device_count() noexcept {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

std::string no_device_reason() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err == cudaSuccess) return n == 0 ? "the CUDA driver reports no device" : "";
  (void)cudaGetLastError();
  int driver = 0;
  if (cudaDriverGetVersion(&driver) != cudaSuccess || driver == 0) {
    (void)cudaGetLastError();
    return "no CUDA driver is installed: libcuda.so.1 not found";
  }
  std::string reason = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
  if (err == cudaErrorInsufficientDriver)
    reason += " (the driver supports CUDA " + std::to_string(driver / 1000) + "." +
              std::to_string((driver % 1000) / 10) + ", this module was built with " +
              std::to_string(CUDART_VERSION / 1000) + "." +
              std::to_string((CUDART_VERSION % 1000) / 10) + ")";
  return reason;
}

Launch::Launch(std::initializer_list<const DeviceArray*> arrays,
               std::optional<std::intptr_t> stream) {
  if (device_count() == 0)
    throw std::runtime_error("deepz._cuda: no CUDA device found (" + no_device_reason() + ")");
  const DeviceArray* first = nullptr;
  for (const DeviceArray* a : arrays) {
    if (a->data == nullptr || a->size() == 0) continue;  // empty: lives nowhere
    const int dev = device_of(*a);
    if (first == nullptr) {
      first = a;
      device_ = dev;
    } else if (dev != device_) {
      throw py::value_error(a->name + ": is on CUDA device " + std::to_string(dev) + " but " +
                            first->name + " is on device " + std::to_string(device_));
    }
  }
  DEEPZ_CUDA_CHECK(cudaGetDevice(&previous_), "Launch");
  if (device_ < 0) device_ = previous_;
  if (device_ != previous_) DEEPZ_CUDA_CHECK(cudaSetDevice(device_), "Launch");

  try {
    if (stream) {
      stream_ = as_stream(*stream);
    } else {
      for (const DeviceArray* a : arrays)
        if (a->stream) {
          stream_ = as_stream(*a->stream);
          break;
        }
    }
    for (const DeviceArray* a : arrays)
      if (a->stream && a->size() > 0 &&
          normalise_stream(as_stream(*a->stream)) != normalise_stream(stream_))
        order_after(as_stream(*a->stream), stream_, a->name);
  } catch (...) {
    if (device_ != previous_) (void)cudaSetDevice(previous_);
    throw;
  }
}

Launch::~Launch() {
  if (previous_ >= 0 && device_ != previous_) (void)cudaSetDevice(previous_);
}

py::dict describe(const DeviceArray& a) {
  py::dict d;
  d["ptr"] = reinterpret_cast<std::uintptr_t>(a.data);
  d["shape"] = py::tuple(py::cast(a.shape));
  d["typestr"] = a.typestr;
  d["dtype"] = a.dtype_name();
  d["strides"] = a.strides.empty() ? py::object(py::none()) : py::tuple(py::cast(a.strides));
  d["stream"] = a.stream ? py::object(py::int_(*a.stream)) : py::object(py::none());
  d["readonly"] = a.readonly;
  d["version"] = a.version;
  d["c_contiguous"] = a.c_contiguous();
  return d;
}

}  // namespace deepz::cuda
