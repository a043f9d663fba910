"""deepz.info and the `deepz` command (info, --version)."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

import deepz
from deepz import _core
from deepz.cli import main
from deepz.info import format_info, info

KEY_TYPES = {
    "version": str,
    "python": str,
    "platform": str,
    "compiler": str,
    "hardware_threads": int,
    "threads": int,
    "sanitizers": list,
    "cuda_built": bool,
    "cuda_architectures": list,
    "cuda_runtime_version": (str, type(None)),
    "cuda_driver_version": (str, type(None)),
    "cuda_devices": list,
    "cuda_status": str,
    "packages": dict,
}


def test_info_keys_and_types():
    d = info()
    assert set(d) == set(KEY_TYPES)
    for key, kind in KEY_TYPES.items():
        assert isinstance(d[key], kind), key
    assert d["version"] == deepz.__version__
    assert d["threads"] == deepz.get_num_threads()
    assert d["hardware_threads"] == _core.hardware_threads
    assert d["sanitizers"] == [s for s in _core.sanitizers.split(",") if s]
    assert d["packages"]["numpy"] == np.__version__
    assert set(d["packages"]) == {"numpy", "torch", "cupy"}
    json.dumps(d)  # serialisable as it is


def test_info_follows_the_thread_setting():
    deepz.set_num_threads(3)
    try:
        assert info()["threads"] == 3
    finally:
        deepz.set_num_threads(None)


def test_info_cuda_fields_agree_with_the_module():
    d = info()
    try:
        import deepz._cuda as cuda
    except ImportError:
        assert not d["cuda_built"]
        assert d["cuda_architectures"] == []
        assert "built without CUDA" in d["cuda_status"]
        return
    assert d["cuda_built"]
    assert d["cuda_architectures"] == list(cuda.compiled_architectures)
    assert all(isinstance(a, int) for a in d["cuda_architectures"])
    assert d["cuda_runtime_version"] == cuda.cuda_runtime_version
    assert len(d["cuda_devices"]) == cuda.device_count()
    if not d["cuda_devices"]:
        assert d["cuda_status"].startswith("no CUDA device found (")


def test_format_info_shows_everything():
    d = info()
    text = format_info(d)
    assert text.splitlines()[0] == f"deepz {deepz.__version__}"
    for label in ("python", "compiler", "threads", "sanitizers", "CUDA module", "packages"):
        assert f"  {label}" in text
    assert f"numpy {np.__version__}" in text


def test_format_info_lists_devices():
    # A machine with a GPU, described by hand: the rendering is checked here too.
    d = info() | {
        "cuda_built": True,
        "cuda_architectures": [80, 90],
        "cuda_runtime_version": "13.0",
        "cuda_driver_version": "13.0",
        "cuda_devices": [
            {
                "index": 0,
                "name": "NVIDIA H100 80GB HBM3",
                "compute_capability": (9, 0),
                "total_memory": 80 * 2**30,
                "multiprocessors": 132,
                "peak_bandwidth": 3.35e12,
            }
        ],
        "cuda_status": "1 device(s)",
        "sanitizers": ["address", "undefined"],
        "packages": {"numpy": "2.0", "torch": None, "cupy": "13.3"},
    }
    text = format_info(d)
    assert "runtime 13.0; sm_80, sm_90" in text
    assert "GPU 0  " in text
    assert "NVIDIA H100 80GB HBM3, sm_90, 80.0 GiB, 132 SMs, 3350 GB/s peak" in text
    assert "address, undefined" in text
    assert "numpy 2.0, torch -, cupy 13.3" in text


def test_main_info_in_process(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"deepz {deepz.__version__}\n")


def test_main_info_json(capsys):
    assert main(["info", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d) == set(KEY_TYPES)


def test_main_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"deepz {deepz.__version__}"


def test_main_needs_a_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        main([])
    assert exit_.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def _run(*args):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, check=False)


def test_python_m_deepz_cli_info():
    result = _run(sys.executable, "-m", "deepz.cli", "info")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"deepz {deepz.__version__}\n")
    assert "CUDA module" in result.stdout


def test_console_script_version():
    script = Path(sysconfig.get_path("scripts")) / "deepz"
    assert script.exists(), f"the deepz console script is not installed at {script}"
    result = _run(str(script), "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"deepz {deepz.__version__}"
