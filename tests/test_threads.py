import pytest

import deepz
from deepz.threads import get_num_threads, resolve_threads, set_num_threads


def test_default_is_all_available_cores(monkeypatch):
    monkeypatch.delenv("DEEPZ_NUM_THREADS", raising=False)
    set_num_threads(None)
    assert get_num_threads() >= 1


def test_env_var_and_setter(monkeypatch):
    monkeypatch.setenv("DEEPZ_NUM_THREADS", "3")
    set_num_threads(None)
    assert get_num_threads() == 3
    set_num_threads(2)
    try:
        assert get_num_threads() == 2
        assert resolve_threads(None) == 2
        assert resolve_threads(5) == 5
    finally:
        set_num_threads(None)


@pytest.mark.parametrize("bad", [0, -1])
def test_bad_threads_value(bad):
    with pytest.raises(ValueError, match="threads"):
        resolve_threads(bad)


@pytest.mark.parametrize("bad", [1.5, "2", True])
def test_bad_threads_type(bad):
    with pytest.raises(TypeError, match="threads"):
        resolve_threads(bad)


def test_bad_env(monkeypatch):
    monkeypatch.setenv("DEEPZ_NUM_THREADS", "many")
    set_num_threads(None)
    with pytest.raises(ValueError, match="DEEPZ_NUM_THREADS"):
        get_num_threads()


def test_version_is_exposed():
    assert deepz.__version__ == deepz._core.__version__
