// deepz/cuda/array.hpp -- GPU arrays from Python, zero-copy.
//
// Any Python object exposing __cuda_array_interface__ (CuPy arrays, torch CUDA
// tensors, numba device arrays; versions 0-3 of the protocol) crosses into
// deepz._cuda as a DeviceArray: its raw device pointer, shape, dtype, strides
// and the producer's stream. Nothing is copied and no library is imported; the
// Python layer (deepz.devices) allocates outputs "like" the inputs and passes
// the current stream of the caller's library.
//
// A binding of a kernel does, in order (see bind_scale.cpp):
//   1. DeviceArray x = cuda_array(obj, "x");        // TypeError if not a CUDA array
//   2. require_c_contiguous(x); require_writable(y); // ValueError naming the argument
//      x.is<float>() / x.is<double>()                // pick the overload; TypeError otherwise
//      and the shape checks of the kernel            // ValueError, expected vs got
//   3. Launch launch({&x, &y}, stream);              // same device, device made current,
//                                                    // stream chosen and ordered after producers
//   4. { py::gil_scoped_release nogil; launch_<k>(x.ptr<T>(), ..., launch.stream()); }
// Steps 1-2 make no CUDA call; step 3 raises RuntimeError("... no CUDA device
// found ...") where there is none.
#pragma once

#include <cuda_runtime_api.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace deepz::cuda {

namespace py = pybind11;

struct DeviceArray {
  void* data = nullptr;
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> strides;  // bytes; empty when the producer gave None (C-contiguous)
  std::string typestr;                // as given, e.g. "<f4"
  char kind = 0;                      // 'f', 'i', 'u', 'b', 'c', ...
  int itemsize = 0;                   // bytes
  bool readonly = false;
  std::optional<std::intptr_t> stream;  // v3 "stream" of the producer; none if absent or None
  int version = 0;                      // protocol version
  std::string name;                     // the argument's name, for messages

  int ndim() const { return static_cast<int>(shape.size()); }
  std::int64_t size() const;
  bool c_contiguous() const;
  std::string dtype_name() const;  // "float32", "int64", "bool", ...

  // The dtype is exactly T (float, double, std::int32_t, std::int64_t, std::uint8_t, ...).
  template <class T>
  bool is() const {
    static_assert(std::is_arithmetic_v<T>, "DeviceArray::is<T>: T must be arithmetic");
    const char k = std::is_floating_point_v<T> ? 'f'
                   : std::is_same_v<T, bool>   ? 'b'
                   : std::is_signed_v<T>       ? 'i'
                                               : 'u';
    return kind == k && itemsize == static_cast<int>(sizeof(T));
  }
  template <class T>
  T* ptr() const {
    return static_cast<T*>(data);
  }
};

// Read obj.__cuda_array_interface__ (no CUDA call). Raises TypeError when obj
// has none (or a malformed one) and ValueError for a masked or misaligned array.
DeviceArray cuda_array(py::handle obj, const std::string& name);

// ValueError naming the argument unless the array is C-contiguous / writable.
void require_c_contiguous(const DeviceArray& a);
void require_writable(const DeviceArray& a);

// TypeError "<name>: expected float32 or float64, got <dtype>" unless a is one of them.
void require_float(const DeviceArray& a);

// The CUDA device that holds a's memory (device or managed memory; ValueError otherwise).
int device_of(const DeviceArray& a);

// A stream handle from its integer value: 0 = the NULL stream, 1 = the legacy
// default stream (cudaStreamLegacy), 2 = the per-thread default stream
// (cudaStreamPerThread), anything else a cudaStream_t (CuPy's Stream.ptr,
// torch's Stream.cuda_stream).
inline cudaStream_t as_stream(std::intptr_t value) {
  return reinterpret_cast<cudaStream_t>(value);
}

// Devices visible to this process; 0 (never an error) without a driver or GPU.
int device_count() noexcept;
// Why device_count() is 0 (the CUDA error, or "no CUDA device"); "" when it is not.
std::string no_device_reason();

// Everything a launch needs, for the lifetime of the binding call (RAII):
// - RuntimeError "no CUDA device found" where there is none;
// - all non-empty arrays on one device (ValueError naming the odd one out),
//   that device made current (the previous one restored on destruction);
// - the stream: `stream` when given, else the first array's __cuda_array_interface__
//   stream, else the NULL stream;
// - the launch stream waits (an event, no host sync) for every array whose
//   producer stream differs from it, as the protocol (v3) asks of a consumer.
class Launch {
 public:
  Launch(std::initializer_list<const DeviceArray*> arrays, std::optional<std::intptr_t> stream);
  Launch(const Launch&) = delete;
  Launch& operator=(const Launch&) = delete;
  ~Launch();
  cudaStream_t stream() const { return stream_; }
  int device() const { return device_; }

 private:
  int device_ = -1;
  int previous_ = -1;
  cudaStream_t stream_ = nullptr;
};

// A dict of what was read (for tests and debugging): ptr, shape, typestr,
// strides, stream, readonly, version, c_contiguous.
py::dict describe(const DeviceArray& a);

}  // namespace deepz::cuda
