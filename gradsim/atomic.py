"""Atomic file writes: a temporary file beside the target, renamed over it at the end; never a partial file."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


def temporary_name(target: Path) -> tuple[str, str]:
    """(prefix, suffix) of the temporary file written beside `target` (short, whatever the name's length).

    The suffix ends in the target's own (.tmp.gif): writers such as Pillow pick the format from it."""
    return f".{target.name[:64]}.", f".tmp{target.suffix[:8]}"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived during a write (raised so that the temporary file is removed)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextmanager
def signals_raise() -> Iterator[None]:
    """Inside: SIGTERM and SIGHUP (a kill, a time limit, a closed terminal) raise Terminated; ignored ones stay so."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    old = {s: signal.getsignal(s) for s in wanted}

    def handler(signum, frame):
        raise Terminated(signum)

    for s in wanted:
        if old[s] is not signal.SIG_IGN:
            signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)


def _write(path: Path, writer: Callable[[str], None]) -> None:
    target = Path(os.path.realpath(path))  # through a symlink: the link stays, the file it names is replaced
    tmp = None
    try:
        with signals_raise():
            prefix, suffix = temporary_name(target)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=prefix, suffix=suffix)
            os.close(fd)
            writer(tmp)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a file gets the usual permissions
            os.replace(tmp, target)
    finally:
        if tmp is not None and os.path.lexists(tmp):
            os.unlink(tmp)


def write(path: str | os.PathLike, writer: Callable[[str], None]) -> Path:
    """writer(tmp) fills a temporary file beside the file `path` resolves to; it then replaces that file.

    Any exception (OSError, KeyboardInterrupt, SIGTERM, SIGHUP) removes the temporary file first; after a
    SIGTERM or SIGHUP the process then ends as the signal asks.
    """
    path = Path(path)
    try:
        _write(path, writer)
    except Terminated as t:
        os.kill(os.getpid(), t.signum)  # its handler is restored: end as the signal would have ended us
        raise SystemExit(128 + t.signum) from None
    return path
