"""Writing the user's files without ever losing or clobbering one.

* ``atomic_write``: a temporary file with a random name created exclusively (``mkstemp``:
  ``O_CREAT | O_EXCL``, so a pre-placed file or symlink is never written through), synced,
  then renamed over the target (a rename replaces a symlink, it does not follow it). On any
  failure the temporary file is removed and the error names the path and the cause (disk
  full, file too large, read-only, permission).
* ``exclusive``: a lock held for a whole run, so two runs on the same output fail fast.
* ``io_error``: an ``OSError`` as one line for the user.
"""

from __future__ import annotations

import errno
import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from deploycost.errors import DeployCostError

_CAUSES = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file is larger than allowed (file-size limit)",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}


def io_error(path: Path | str, exc: OSError) -> DeployCostError:
    cause = _CAUSES.get(exc.errno or 0, exc.strerror or str(exc))
    return DeployCostError(f"cannot write {path}: {cause}")


@contextmanager
def atomic_open(path: Path) -> Iterator[BinaryIO]:
    """A binary file that replaces ``path`` when the block ends without error; on failure
    ``path`` is untouched and no temporary file is left."""
    path = Path(path)
    try:
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise io_error(path, exc) from None
    try:
        with os.fdopen(handle, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _discard(tmp)
        raise io_error(path, exc) from None
    except BaseException:
        _discard(tmp)
        raise


def atomic_write(path: Path, data: bytes | str) -> None:
    """Replace ``path`` with ``data`` in one step; on failure leave it and no temp file."""
    with atomic_open(path) as out:
        out.write(data.encode("utf-8") if isinstance(data, str) else data)


def _discard(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


@contextmanager
def exclusive(target: Path, what: str) -> Iterator[None]:
    """Hold a lock on ``target`` for the duration (a ``.NAME.lock`` file beside it, locked
    with ``flock``: a lock file left by a killed run does not block the next one)."""
    target = Path(target)
    lock = target.with_name(f".{target.name}.lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise io_error(lock, exc) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DeployCostError(
                f"another deploycost {what} is writing {target} right now; wait for it or "
                f"choose another output"
            ) from None
        yield
    finally:
        try:
            os.unlink(lock)
        except OSError:
            pass
        os.close(fd)
