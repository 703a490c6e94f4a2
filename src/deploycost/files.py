"""Writing the user's files without ever losing or clobbering one.

* ``atomic_write``: a temporary file with a random name created exclusively (``mkstemp``:
  ``O_CREAT | O_EXCL``, so a pre-placed file or symlink is never written through), synced,
  then renamed over the target (a rename replaces a symlink, it does not follow it). On any
  failure the temporary file is removed and the error names the path and the cause (disk
  full, file too large, read-only, permission).
* ``exclusive``: a lock held for a whole run, so two runs on the same output fail fast.
* ``exchange``: two folders swapped in one step, where the system can.
* ``file_mode``, ``folder_mode``: what the user's umask gives new files and folders.
* ``io_error``: an ``OSError`` as one line for the user.
"""

from __future__ import annotations

import ctypes
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
        os.fchmod(handle, file_mode())
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
    with ``flock``: a lock file left by a killed run does not block the next one). Only
    the run that holds the lock removes the file, while it still holds it; a run that
    locked a file another run had just removed gives way, as if refused."""
    target = Path(target)
    lock = target.with_name(f".{target.name}.lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    except OSError as exc:
        raise io_error(lock, exc) from None
    busy = DeployCostError(
        f"another deploycost {what} is writing {target} right now; wait for it or choose "
        f"another output"
    )
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        if not _same_file(fd, lock):  # the holder removed it between our open and lock
            raise busy
        try:
            yield
        finally:
            try:
                os.unlink(lock)
            except OSError:
                pass
    finally:
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def file_mode() -> int:
    """The mode a new file gets under the process's umask (0644 under 0022): temporary
    files are created 0600 and take it before they replace the target."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no /proc: read it by setting it back at once
    os.umask(mask)
    return 0o666 & ~mask


def folder_mode() -> int:
    """The mode a new folder gets under the process's umask (0755 under 0022)."""
    mode = file_mode()
    return mode | ((mode & 0o444) >> 2)  # search wherever reading is allowed


AT_FDCWD = -100
RENAME_EXCHANGE = 2


def exchange(a: Path, b: Path) -> bool:
    """Swap the paths ``a`` and ``b`` in one step (Linux ``renameat2`` with
    ``RENAME_EXCHANGE``); False where the system or file system cannot, nothing moved."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    done = renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    return done == 0
