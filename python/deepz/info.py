"""What this deepz installation holds: version, compiled features, devices.

:func:`info` gathers it as a dict (for bug reports, logs, a run's metadata);
:func:`format_info` renders it for people; ``deepz info`` prints it. Nothing
here raises because a GPU, a driver or an optional package is missing: that is
what it reports.
"""

from __future__ import annotations

import importlib
import logging
import platform
import warnings
from typing import Any

from . import _core
from .threads import get_num_threads

__all__ = ["format_info", "info"]

log = logging.getLogger(__name__)

# Optional array/network libraries whose versions are worth reporting.
_PACKAGES = ("numpy", "torch", "cupy")


def _package_version(name: str) -> str | None:
    """Return the version of ``name`` if it imports, else None."""
    try:
        with warnings.catch_warnings():  # a noisy import is still an import
            warnings.simplefilter("ignore")
            module = importlib.import_module(name)
    except Exception as err:  # a broken install is reported, not raised
        if not isinstance(err, ModuleNotFoundError):
            log.debug("importing %s failed: %s", name, err)
        return None
    return str(getattr(module, "__version__", "unknown"))


def _cuda_info() -> dict[str, Any]:
    d: dict[str, Any] = {
        "cuda_built": False,
        "cuda_architectures": [],
        "cuda_runtime_version": None,
        "cuda_driver_version": None,
        "cuda_devices": [],
        "cuda_status": "",
    }
    try:
        cuda = importlib.import_module(f"{__package__}._cuda")
    except ModuleNotFoundError:
        d["cuda_status"] = "deepz was built without CUDA (nvcc not found at build time)"
        return d
    except ImportError as err:
        d["cuda_status"] = f"deepz._cuda failed to import: {err}"
        return d
    d["cuda_built"] = True
    d["cuda_architectures"] = [int(a) for a in cuda.compiled_architectures]
    d["cuda_runtime_version"] = str(cuda.cuda_runtime_version)
    d["cuda_driver_version"] = cuda.driver_version()
    d["cuda_devices"] = [dict(dev) for dev in cuda.devices()]
    d["cuda_status"] = (
        f"{len(d['cuda_devices'])} device(s)"
        if d["cuda_devices"]
        else f"no CUDA device found ({cuda.no_device_reason()})"
    )
    return d


def info() -> dict[str, Any]:
    """Describe this deepz installation and the machine it runs on.

    Returns
    -------
    dict
        ``version`` (str), ``python`` (str), ``platform`` (str), ``compiler``
        (str: the C++ compiler of ``deepz._core``), ``hardware_threads`` (int),
        ``threads`` (int: what the kernels use by default, see
        :func:`deepz.threads.get_num_threads`), ``sanitizers`` (list of str,
        empty for a normal build), ``cuda_built`` (bool), ``cuda_architectures``
        (list of int, e.g. ``[80, 90]``), ``cuda_runtime_version`` and
        ``cuda_driver_version`` (str such as ``"13.0"``, or None),
        ``cuda_devices`` (list of dict: index, name, compute_capability,
        total_memory in bytes, multiprocessors, peak_bandwidth in bytes/s),
        ``cuda_status`` (str: the device count, or why there is none) and
        ``packages`` (dict: numpy, torch, cupy -> version str, or None when not
        importable).

    Examples
    --------
    >>> from deepz.info import info
    >>> d = info()
    >>> sorted(d["packages"])
    ['cupy', 'numpy', 'torch']

    """
    sanitizers = str(getattr(_core, "sanitizers", ""))
    d: dict[str, Any] = {
        "version": str(_core.__version__),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "compiler": str(getattr(_core, "compiler", "unknown")),
        "hardware_threads": int(getattr(_core, "hardware_threads", 0)),
        "threads": get_num_threads(),
        "sanitizers": [s for s in sanitizers.split(",") if s],
    }
    d.update(_cuda_info())
    d["packages"] = {name: _package_version(name) for name in _PACKAGES}
    return d


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def format_info(d: dict[str, Any]) -> str:
    """Render the dict of :func:`info` as aligned lines of text.

    Parameters
    ----------
    d : dict
        As returned by :func:`info`.

    Returns
    -------
    str
        Several lines, no trailing newline.

    """
    rows: list[tuple[str, str]] = [
        ("python", f"{d['python']} on {d['platform']}"),
        ("compiler", d["compiler"]),
        ("threads", f"{d['threads']} (hardware: {d['hardware_threads']})"),
        ("sanitizers", ", ".join(d["sanitizers"]) or "none"),
    ]
    if d["cuda_built"]:
        archs = ", ".join(f"sm_{a}" for a in d["cuda_architectures"]) or "none"
        rows.append(("CUDA module", f"runtime {d['cuda_runtime_version']}; {archs}"))
        rows.append(("CUDA driver", d["cuda_driver_version"] or "none"))
    else:
        rows.append(("CUDA module", "not built"))
    if d["cuda_devices"]:
        for dev in d["cuda_devices"]:
            major, minor = dev["compute_capability"]
            text = (
                f"{dev['name']}, sm_{major}{minor}, {_gib(dev['total_memory'])}, "
                f"{dev['multiprocessors']} SMs"
            )
            if dev.get("peak_bandwidth"):
                text += f", {dev['peak_bandwidth'] / 1e9:.0f} GB/s peak"
            rows.append((f"GPU {dev['index']}", text))
    else:
        rows.append(("GPU", d["cuda_status"] or "none"))
    packages = ", ".join(f"{k} {v or '-'}" for k, v in d["packages"].items())
    rows.append(("packages", packages))
    width = max(len(key) for key, _ in rows)
    lines = [f"deepz {d['version']}"]
    lines += [f"  {key:<{width}}  {value}" for key, value in rows]
    return "\n".join(lines)
