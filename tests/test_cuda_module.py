"""deepz._cuda: importable without a GPU; the zero-copy path and the demo kernel.

The first half needs only the built module (it runs in CI, where nvcc exists
and no GPU does); the tests marked ``gpu`` run the demo kernel on CuPy arrays
and torch CUDA tensors and are skipped, with the reason, elsewhere.
"""

from __future__ import annotations

import importlib
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_devices import PTR, FakeCudaArray, from_numpy_interface

from deepz import devices

cuda = pytest.importorskip(
    "deepz._cuda", reason="deepz was built without CUDA (nvcc not found at build time)"
)


# -- without a GPU ---------------------------------------------------------------------------


def test_module_imports_and_counts_devices_without_raising():
    n = cuda.device_count()
    assert isinstance(n, int)
    assert n >= 0
    assert len(cuda.devices()) == n
    assert isinstance(cuda.no_device_reason(), str)
    assert (n == 0) == bool(cuda.no_device_reason())


def test_no_driver_means_no_device():
    if cuda.driver_version() is not None:
        pytest.skip("a CUDA driver is installed here")
    assert cuda.device_count() == 0
    assert cuda.devices() == []
    assert "driver" in cuda.no_device_reason()


def test_build_facts():
    assert re.fullmatch(r"\d+\.\d", cuda.cuda_runtime_version)
    archs = cuda.compiled_architectures
    assert archs, "no architecture compiled"
    assert all(isinstance(a, int) and a >= 50 for a in archs)
    assert archs == sorted(set(archs))


@given(
    arr=hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64, np.int64, np.uint8]),
        shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4),
    ),
    transpose=st.booleans(),
    stream=st.sampled_from([None, 1, 2, 0x1234560]),
)
def test_cpp_reader_agrees_with_python_reader(arr, transpose, stream):
    view = arr.T if transpose else arr
    fake = from_numpy_interface(view, stream=stream)
    py = devices.cuda_array_info(fake, contiguous=False)
    cpp = cuda._array_info(fake, "flux")
    assert cpp["ptr"] == py.ptr
    assert cpp["shape"] == py.shape
    assert cpp["typestr"] == view.dtype.str
    assert cpp["dtype"] == view.dtype.name
    assert cpp["strides"] == py.strides
    assert cpp["stream"] == py.stream
    assert cpp["readonly"] == py.readonly
    assert cpp["version"] == py.version
    assert cpp["c_contiguous"] == py.c_contiguous == view.flags.c_contiguous


@pytest.mark.parametrize(
    ("fake", "error", "match"),
    [
        (np.zeros(3), TypeError, "^flux: expected a CUDA array .* got numpy.ndarray"),
        (FakeCudaArray((2,), stream=0), ValueError, r"^flux: .*'stream'\] is 0"),
        (FakeCudaArray((2,), mask=object()), ValueError, "^flux: masked"),
        (FakeCudaArray((2,), ptr=PTR + 2), ValueError, "^flux: the data pointer is not aligned"),
        (FakeCudaArray((2, 2), strides=(8,)), ValueError, "^flux: strides"),
        (FakeCudaArray((2,), typestr=">f4"), TypeError, "^flux: big-endian"),
    ],
    ids=["numpy", "stream-0", "mask", "misaligned", "strides", "big-endian"],
)
def test_cpp_reader_errors_name_the_argument(fake, error, match):
    with pytest.raises(error, match=match):
        cuda._array_info(fake, "flux")


@pytest.mark.parametrize(
    ("fake", "error", "match"),
    [
        (FakeCudaArray((3, 4), strides=(4, 12)), ValueError, "^x: the GPU array must be C-cont"),
        (FakeCudaArray((3,), readonly=True), ValueError, "^x: the GPU array is read-only"),
        (
            FakeCudaArray((3,), typestr="<i4"),
            TypeError,
            "^x: expected float32 or float64, got int32",
        ),
    ],
    ids=["non-contiguous", "read-only", "int32"],
)
def test_scale_checks_before_touching_the_device(fake, error, match):
    with pytest.raises(error, match=match):
        cuda.scale(fake, 2.0)


def test_scale_of_an_empty_array_does_nothing():
    assert cuda.scale(FakeCudaArray((0, 3), ptr=0), 2.0) is None


def test_scale_without_a_device_raises_runtime_error():
    fake = FakeCudaArray((8,))  # plausible, but no device memory behind it
    if cuda.device_count() == 0:
        with pytest.raises(RuntimeError, match=r"^deepz._cuda: no CUDA device found \(.+\)$"):
            cuda.scale(fake, 2.0)
    else:  # a GPU is there, and says the pointer is not its memory
        with pytest.raises(ValueError, match="^x: .*not CUDA device or managed memory"):
            cuda.scale(fake, 2.0)


# -- on a GPU ------------------------------------------------------------------------------


class Lib:
    """The bits of CuPy / torch the GPU tests use, behind one interface."""

    def __init__(self, name):
        self.name = name
        self.mod = importlib.import_module(name)

    def asarray(self, a):
        if self.name == "cupy":
            return self.mod.asarray(a)
        return self.mod.from_numpy(np.ascontiguousarray(a)).to("cuda")

    def to_numpy(self, x):
        return self.mod.asnumpy(x) if self.name == "cupy" else x.cpu().numpy()

    def new_stream(self):
        return (
            self.mod.cuda.Stream(non_blocking=True)
            if self.name == "cupy"
            else self.mod.cuda.Stream()
        )

    def on_stream(self, stream):
        return stream if self.name == "cupy" else self.mod.cuda.stream(stream)

    def synchronize(self):
        if self.name == "cupy":
            self.mod.cuda.get_current_stream().synchronize()
            self.mod.cuda.Device().synchronize()
        else:
            self.mod.cuda.synchronize()

    def data_ptr(self, x):
        return x.data.ptr if self.name == "cupy" else x.data_ptr()


@pytest.fixture(params=["cupy", "torch"])
def gpu_lib(request):
    """Each GPU array library that is installed and sees CUDA."""
    try:
        lib = Lib(request.param)
    except ImportError:
        pytest.skip(f"{request.param} is not installed")
    if lib.name == "torch" and not lib.mod.cuda.is_available():
        pytest.skip("torch was built without CUDA or sees no device")
    return lib


def _scale_on_gpu(lib, host, factor):
    x = lib.asarray(host)
    cuda.scale(x, factor, stream=devices.current_stream(x))
    lib.synchronize()
    return lib.to_numpy(x)


@pytest.mark.gpu
@pytest.mark.parametrize("n", [1, 255, 256, 257, 1_000_003])
def test_scale_matches_numpy_bit_for_bit(gpu_lib, dtype, rng, n):
    host = rng.standard_normal(n).astype(dtype)
    got = _scale_on_gpu(gpu_lib, host, 1.7)
    expected = host * dtype(1.7)  # the factor is cast to the array's dtype first
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, expected)


@pytest.mark.gpu
def test_scale_covers_more_elements_than_the_grid(gpu_lib, rng):
    # More elements than the capped grid has threads: the grid-stride loop must reach them all.
    sms = max(dev["multiprocessors"] for dev in cuda.devices())
    n = sms * 32 * 256 * 3 + 7
    host = rng.standard_normal(n).astype(np.float32)
    np.testing.assert_array_equal(_scale_on_gpu(gpu_lib, host, -2.0), host * np.float32(-2.0))


@pytest.mark.gpu
def test_scale_on_2d_and_empty_arrays(gpu_lib, dtype, rng):
    host = rng.standard_normal((37, 129)).astype(dtype)
    np.testing.assert_array_equal(_scale_on_gpu(gpu_lib, host, 0.5), host * dtype(0.5))
    empty = gpu_lib.asarray(np.zeros((0, 5), dtype))
    cuda.scale(empty, 3.0)  # nothing to do, no launch


@pytest.mark.gpu
def test_scale_on_the_callers_stream(gpu_lib, rng):
    host = rng.standard_normal(100_000).astype(np.float32)
    stream = gpu_lib.new_stream()
    with gpu_lib.on_stream(stream):
        x = gpu_lib.asarray(host)
        launch_stream = devices.current_stream(x)
        assert launch_stream not in (0, 1, 2)  # a stream of our own, not a default one
        cuda.scale(x, 3.0, stream=launch_stream)
        cuda.scale(x, 0.25, stream=launch_stream)
        stream.synchronize()
        got = gpu_lib.to_numpy(x)
    np.testing.assert_array_equal(got, host * np.float32(3.0) * np.float32(0.25))


@pytest.mark.gpu
def test_scale_refuses_bad_gpu_arrays(gpu_lib):
    x = gpu_lib.asarray(np.zeros((4, 6), np.float32))
    with pytest.raises(ValueError, match="^x: the GPU array must be C-contiguous"):
        cuda.scale(x.T, 2.0)
    with pytest.raises(TypeError, match="^x: expected float32 or float64, got int32"):
        cuda.scale(gpu_lib.asarray(np.zeros(3, np.int32)), 2.0)
    with pytest.raises(TypeError, match="^x: expected a CUDA array"):
        cuda.scale(np.zeros(3, np.float32), 2.0)


@pytest.mark.gpu
def test_devices_helpers_on_real_arrays(gpu_lib):
    x = gpu_lib.asarray(np.arange(12, dtype=np.float64).reshape(3, 4))
    assert devices.array_device(x) == "cuda"
    assert devices.common_device(flux=x, ivar=None) == "cuda"
    with pytest.raises(TypeError, match="^ivar: is a host"):
        devices.common_device(flux=x, ivar=np.ones((3, 4)))
    info = devices.cuda_array_info(x, "flux")
    assert info.ptr == gpu_lib.data_ptr(x)
    assert info.shape == (3, 4)
    assert info.dtype == np.float64
    assert cuda._array_info(x, "flux")["ptr"] == info.ptr
    out = devices.empty_like(x, shape=(5,), dtype=np.float32)
    assert type(out) is type(x)
    assert devices.array_device(out) == "cuda"
    assert tuple(out.shape) == (5,)
    assert devices.cuda_array_info(out).dtype == np.float32
    contiguous = devices.as_contiguous(x.T)
    assert devices.cuda_array_info(contiguous).c_contiguous
    np.testing.assert_array_equal(gpu_lib.to_numpy(contiguous), np.arange(12.0).reshape(3, 4).T)


@pytest.mark.gpu
def test_device_queries_on_a_gpu():
    assert devices.require_cuda() is cuda
    assert cuda.no_device_reason() == ""
    assert cuda.driver_version() is not None
    for dev in cuda.devices():
        assert dev["name"]
        assert dev["compute_capability"][0] >= 5
        assert dev["total_memory"] > 2**30
        assert dev["multiprocessors"] > 0
