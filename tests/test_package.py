import deepz


def test_public_kernels_are_exported():
    for name in ("resample", "redshift", "add_noise", "merge_bins", "line_search"):
        assert callable(getattr(deepz, name))
        assert getattr(deepz, name).__doc__
