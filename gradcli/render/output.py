"""Files written by --output: through a temporary file, renamed into place when complete.

What goes into a file is the View's (render/view.py); this module only writes it.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from typing import Any

from gradcli.errors import GradcliError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str, write: Callable[[Any], None], *, binary: bool) -> None:
    """Write through a temporary file in the same folder, renamed into place when complete."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise GradcliError(f"cannot write {path!r}: the folder {folder!r} does not exist", kind="file")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".gradcli-", suffix=".tmp", dir=folder)
    except OSError as err:
        raise GradcliError(f"cannot write {path!r}: {err.strerror}", kind="file") from None
    try:
        # mkstemp makes the file owner-only; give it the mode a plain open() would (or the old file's).
        os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode) if os.path.exists(path) else 0o666 & ~_umask())
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(err, OSError):
            raise GradcliError(f"cannot write {path!r}: {err.strerror or err}", kind="file") from None
        raise
