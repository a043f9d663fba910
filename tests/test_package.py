import deepz


def test_public_kernels_are_exported():
    for name in ("resample", "redshift", "add_noise", "merge_bins", "line_search"):
        assert callable(getattr(deepz, name))
        assert getattr(deepz, name).__doc__


def test_type_stubs_cover_the_compiled_modules():
    """_core.pyi and _cuda.pyi (pybind11-stubgen) name every function the modules have."""
    import ast
    import importlib
    from pathlib import Path

    import deepz

    root = Path(deepz.__file__).parent
    assert (root / "py.typed").is_file()
    for name in ("_core", "_cuda"):
        try:
            mod = importlib.import_module(f"deepz.{name}")
        except ImportError:
            continue  # built without CUDA: nothing to cover
        tree = ast.parse((root / f"{name}.pyi").read_text())
        stubbed = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        functions = {k for k, v in vars(mod).items() if callable(v) and not k.startswith("__")}
        assert functions <= stubbed, f"regenerate {name}.pyi: missing {functions - stubbed}"
