"""deepz.devices: where arrays live, reading __cuda_array_interface__, require_cuda.

No GPU is needed: GPU arrays are stood in for by objects carrying a hand-made
``__cuda_array_interface__`` (the protocol is only a dict), and CuPy / torch by
stub modules that record what deepz asks of them.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from deepz import devices
from deepz.devices import (
    CudaArrayInfo,
    array_device,
    as_contiguous,
    common_device,
    cuda_array_info,
    current_stream,
    empty_like,
    is_gpu_array,
    require_cuda,
)

PTR = 0x7F00_0000_0000  # an aligned, plausible device address (never dereferenced)


class FakeCudaArray:
    """A GPU array as far as the protocol goes: a dict and nothing behind it."""

    def __init__(
        self, shape, typestr="<f4", strides=None, ptr=PTR, stream=None, version=3, **extra
    ):
        self.shape = tuple(shape)
        self.__cuda_array_interface__ = {
            "shape": self.shape,
            "typestr": typestr,
            "data": (ptr, extra.pop("readonly", False)),
            "strides": strides,
            "version": version,
            **({} if stream is None else {"stream": stream}),
            **extra,
        }


class CpuTensorLike:
    """Like a torch CPU tensor: the property exists but raises AttributeError."""

    @property
    def __cuda_array_interface__(self):
        raise AttributeError("Can't get __cuda_array_interface__ on non-CUDA tensor")


class DLPackOnly:
    def __init__(self, device_type, device_id=0):
        self._device = (device_type, device_id)

    def __dlpack_device__(self):
        return self._device


def from_numpy_interface(arr: np.ndarray, **kw) -> FakeCudaArray:
    """A fake GPU array with the layout of a numpy array (numpy's interface has the same keys)."""
    ai = arr.__array_interface__
    return FakeCudaArray(ai["shape"], ai["typestr"], ai["strides"], **kw)


# -- array_device / is_gpu_array / common_device ---------------------------------------


@pytest.mark.parametrize(
    "x",
    [np.zeros(3), np.zeros((2, 3), np.float32)[:, ::2], [1.0, 2.0], 3.0, CpuTensorLike()],
    ids=["ndarray", "strided", "list", "scalar", "cpu-tensor"],
)
def test_host_objects_are_cpu(x):
    assert array_device(x) == "cpu"
    assert not is_gpu_array(x)


def test_torch_cpu_tensors_are_cpu():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    t = torch.zeros(3)
    assert array_device(t) == "cpu"
    assert common_device(flux=np.zeros(3), ivar=t) == "cpu"


def test_cuda_array_interface_means_cuda():
    assert array_device(FakeCudaArray((4, 5))) == "cuda"
    assert is_gpu_array(FakeCudaArray((0,)))


@pytest.mark.parametrize(("device_type", "expected"), [(1, "cpu"), (2, "cuda"), (13, "cuda")])
def test_dlpack_device(device_type, expected):
    assert array_device(DLPackOnly(device_type, 1)) == expected
    assert devices.dlpack_device(DLPackOnly(device_type, 1)) == (device_type, 1)


def test_numpy_dlpack_device_is_cpu():
    assert devices.dlpack_device(np.zeros(2)) == (1, 0)
    assert devices.dlpack_device([1, 2]) is None


def test_unsupported_dlpack_device_is_refused():
    with pytest.raises(TypeError, match="DLPack device type 10"):
        array_device(DLPackOnly(10))  # ROCm


def test_common_device():
    flux, gpu = np.zeros((2, 3)), FakeCudaArray((2, 3))
    assert common_device(flux=flux, ivar=None, wave=np.zeros(3)) == "cpu"
    assert common_device(flux=gpu, ivar=FakeCudaArray((2, 3)), wave=None) == "cuda"
    assert common_device(flux=None, ivar=gpu) == "cuda"  # the first non-None leads
    with pytest.raises(TypeError, match=r"^ivar: is a host \(numpy\) array but flux is a GPU"):
        common_device(flux=gpu, ivar=flux)
    with pytest.raises(TypeError, match=r"^wave: is a GPU array but flux is a host"):
        common_device(flux=flux, wave=gpu)


# -- cuda_array_info -----------------------------------------------------------------------


def test_interface_is_parsed():
    x = FakeCudaArray((3, 4), "<f8", stream=0x55AA, version=3)
    info = cuda_array_info(x, "flux")
    assert info == CudaArrayInfo(
        ptr=PTR,
        shape=(3, 4),
        dtype=np.dtype(np.float64),
        strides=None,
        stream=0x55AA,
        readonly=False,
        version=3,
    )
    assert info.size == 12
    assert info.nbytes == 96
    assert info.c_contiguous
    assert info.c_strides() == (32, 8)


def test_interface_v2_without_stream_and_explicit_c_strides():
    x = FakeCudaArray((2, 3), "<f4", strides=(12, 4), version=2, readonly=True)
    info = cuda_array_info(x)
    assert info.stream is None
    assert info.strides == (12, 4)
    assert info.readonly
    assert info.version == 2
    assert info.c_contiguous


def test_size_one_axes_may_have_any_stride():
    info = cuda_array_info(FakeCudaArray((1, 5), "<f4", strides=(999, 4)))
    assert info.c_contiguous


def test_non_contiguous_is_rejected_naming_the_argument():
    x = FakeCudaArray((3, 4), "<f4", strides=(4, 12))  # a transposed (4, 3) array
    with pytest.raises(ValueError, match=r"^flux: the GPU array must be C-contiguous") as err:
        cuda_array_info(x, "flux")
    assert "strides (4, 12)" in str(err.value)
    assert "expected (16, 4)" in str(err.value)
    # ... unless the caller only wants to look
    assert not cuda_array_info(x, "flux", contiguous=False).c_contiguous


@pytest.mark.parametrize(
    ("extra", "error", "match"),
    [
        ({"stream": 0}, ValueError, r"^x: .*'stream'\] is 0"),
        ({"mask": object()}, ValueError, "^x: masked"),
        ({"strides": (4,)}, ValueError, r"^x: strides \(4,\) do not match shape \(2, 2\)"),
        ({"typestr": "nonsense"}, TypeError, "^x: unreadable typestr"),
    ],
    ids=["stream-0", "mask", "strides-length", "typestr"],
)
def test_malformed_interfaces(extra, error, match):
    kwargs = {"shape": (2, 2), **extra}
    with pytest.raises(error, match=match):
        cuda_array_info(FakeCudaArray(**kwargs))


def test_not_a_gpu_array():
    with pytest.raises(TypeError, match="^wave: expected a CUDA array .* got ndarray"):
        cuda_array_info(np.zeros(3), "wave")
    bad = types.SimpleNamespace(__cuda_array_interface__={"shape": (2,)})
    with pytest.raises(TypeError, match="^x: malformed"):
        cuda_array_info(bad)


@given(
    arr=hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64, np.int16]),
        shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
    ),
    data=st.data(),
)
def test_contiguity_agrees_with_numpy(arr, data):
    # Views of every layout: numpy's own flag is the reference.
    view = arr
    if arr.ndim > 1 and data.draw(st.booleans(), label="transpose"):
        view = view.T
    step = data.draw(st.integers(-2, 2).filter(bool), label="step")
    view = view[::step]
    info = cuda_array_info(from_numpy_interface(view), contiguous=False)
    assert info.c_contiguous == view.flags.c_contiguous
    assert info.shape == view.shape
    assert info.dtype == view.dtype


# -- allocation and streams, with stub libraries ------------------------------------------


def _stub_cupy(monkeypatch, calls):
    class Device:
        def __init__(self, index):
            self.index = index

        def __enter__(self):
            calls.append(("enter device", self.index))

        def __exit__(self, *exc):
            calls.append(("exit device", self.index))

    cupy = types.ModuleType("cupy")
    cupy.empty = lambda shape, dtype: calls.append(("empty", shape, np.dtype(dtype))) or "out"
    cupy.ascontiguousarray = lambda x: ("contiguous", x)
    cupy.cuda = types.SimpleNamespace(get_current_stream=lambda: types.SimpleNamespace(ptr=0xBEEF))

    class ndarray(FakeCudaArray):  # noqa: N801 - the name CuPy gives it
        __module__ = "cupy._core.core"

        def __init__(self, shape, dtype=np.float32, device=1):
            super().__init__(shape, np.dtype(dtype).str)
            self.dtype = np.dtype(dtype)
            self.device = Device(device)

    monkeypatch.setitem(sys.modules, "cupy", cupy)
    return ndarray


def test_cupy_inputs_get_cupy_outputs(monkeypatch):
    calls = []
    ndarray = _stub_cupy(monkeypatch, calls)
    x = ndarray((3, 4), np.float64, device=1)
    assert empty_like(x) == "out"
    assert empty_like(x, shape=(3,), dtype=np.float32) == "out"
    assert calls == [
        ("enter device", 1),
        ("empty", (3, 4), np.dtype(np.float64)),
        ("exit device", 1),
        ("enter device", 1),
        ("empty", (3,), np.dtype(np.float32)),
        ("exit device", 1),
    ]
    assert current_stream(x) == 0xBEEF
    assert as_contiguous(x) == ("contiguous", x)


def _stub_torch(monkeypatch, calls):
    torch = types.ModuleType("torch")
    torch.float32, torch.float64 = "torch.float32", "torch.float64"
    torch.from_numpy = lambda a: types.SimpleNamespace(dtype=f"torch.{a.dtype}")
    torch.empty = lambda shape, dtype, device: (
        calls.append(("empty", shape, dtype, device)) or "out"
    )
    torch.cuda = types.SimpleNamespace(
        current_stream=lambda device: (
            calls.append(("stream", device)) or types.SimpleNamespace(cuda_stream=0xCAFE)
        )
    )

    class Tensor(FakeCudaArray):
        __module__ = "torch"

        def __init__(self, shape, is_cuda=True):
            super().__init__(shape)
            self.dtype = "torch.float32"
            self.device = "cuda:1" if is_cuda else "cpu"
            self.is_cuda = is_cuda

        def detach(self):
            calls.append(("detach",))
            return self

        def contiguous(self):
            calls.append(("contiguous",))
            return self

    monkeypatch.setitem(sys.modules, "torch", torch)
    return Tensor


def test_torch_inputs_get_torch_outputs(monkeypatch):
    calls = []
    Tensor = _stub_torch(monkeypatch, calls)
    x = Tensor((5,))
    assert empty_like(x) == "out"
    assert empty_like(x, shape=(2, 5), dtype=np.float64) == "out"
    assert current_stream(x) == 0xCAFE
    assert as_contiguous(x) is x
    assert calls == [
        ("empty", (5,), "torch.float32", "cuda:1"),
        ("empty", (2, 5), "torch.float64", "cuda:1"),
        ("stream", "cuda:1"),
        ("detach",),
        ("contiguous",),
    ]
    with pytest.raises(TypeError, match="expected a torch CUDA tensor"):
        current_stream(Tensor((5,), is_cuda=False))


def test_numpy_and_plain_interfaces_never_import_gpu_libraries(monkeypatch):
    # None in sys.modules makes any `import cupy` / `import torch` fail.
    for name in ("cupy", "torch", "numba", "numba.cuda"):
        monkeypatch.setitem(sys.modules, name, None)
    x = np.arange(6.0).reshape(2, 3)
    out = empty_like(x, dtype=np.float32)
    assert isinstance(out, np.ndarray)
    assert out.shape == (2, 3)
    assert out.dtype == np.float32
    assert as_contiguous(x.T).flags.c_contiguous
    fake = FakeCudaArray((2, 3), stream=2)
    assert array_device(fake) == "cuda"
    assert current_stream(fake) == 2
    assert current_stream(FakeCudaArray((2, 3))) == 0
    assert as_contiguous(fake) is fake
    with pytest.raises(ValueError, match="C-contiguous"):
        as_contiguous(FakeCudaArray((3, 4), strides=(4, 12)))
    with pytest.raises(TypeError, match="cannot allocate a result like"):
        empty_like(fake)
    with pytest.raises(TypeError, match="expected a CUDA array"):
        current_stream(x)


# -- require_cuda ----------------------------------------------------------------------------


def test_require_cuda_here():
    try:
        import deepz._cuda as cuda
    except ImportError:
        with pytest.raises(RuntimeError, match=r"^deepz was built without CUDA \(nvcc not found"):
            require_cuda()
        assert not devices.cuda_available()
        return
    if cuda.device_count() == 0:
        with pytest.raises(RuntimeError, match=r"^no CUDA device found \(.+\)$"):
            require_cuda()
        assert not devices.cuda_available()
    else:
        assert require_cuda() is cuda
        assert devices.cuda_available()


def test_require_cuda_without_the_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "deepz._cuda", None)
    with pytest.raises(
        RuntimeError, match=r"^deepz was built without CUDA \(nvcc not found at build time\)$"
    ):
        require_cuda()


@pytest.mark.parametrize("count", [0, 2])
def test_require_cuda_counts_devices(monkeypatch, count):
    fake = types.ModuleType("deepz._cuda")
    fake.device_count = lambda: count
    fake.no_device_reason = lambda: "" if count else "the CUDA driver reports no device"
    monkeypatch.setitem(sys.modules, "deepz._cuda", fake)
    if count:
        assert require_cuda() is fake
    else:
        with pytest.raises(
            RuntimeError, match=r"^no CUDA device found \(the CUDA driver reports no device\)$"
        ):
            require_cuda()
