"""Write to a temporary file in the target directory, then rename it into place.

``os.replace`` is atomic on POSIX and Windows when source and target are on
the same file system (hence the temporary file sits next to the target): a
reader sees either the old file or the complete new one, never a truncated
file, even if the writer is interrupted (exception, KeyboardInterrupt, kill)
half-way. A killed process may leave its ``.<name>.<random>.tmp`` file
behind (never the target); any other failure removes it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

__all__ = ["atomic_path"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path, overwrite: bool = False) -> Iterator[str]:
    """Yield a temporary path to write; on success it replaces ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        The final file.
    overwrite : bool
        If False and ``path`` exists, raise ``FileExistsError`` before
        anything is written.

    Yields
    ------
    str
        A fresh, empty temporary file in the same directory with the same
        suffix as ``path`` (so tools that look at extensions still work).
        The body of the ``with`` block writes it (it may replace it).

    Notes
    -----
    The new file gets the permissions a plain ``open(path, "w")`` would give
    (0o666 minus the umask), not the 0o600 of temporary files. The data are
    flushed to disk (``fsync``) before the rename.

    """
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    suffix = "".join(s for s in (os.path.splitext(base)[1],) if s)
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=f".tmp{suffix}", dir=directory)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
