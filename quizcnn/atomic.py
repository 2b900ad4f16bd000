"""Writing a file so that a reader (or a crash) sees the old file or the new one, never half."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(out: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A scratch path beside ``out`` for the body to fill; when the body succeeds it
    replaces ``out`` in one rename, readable like a normal file (mkstemp makes it
    private), and when the body fails it is removed and ``out`` is untouched."""
    import tempfile  # only when something is written

    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}-", suffix=suffix, dir=out.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(out: Path, data: str | bytes, *, durable: bool = False) -> None:
    """Write ``data`` (text as UTF-8) to ``out`` atomically; ``durable`` also fsyncs it
    before the rename, for state that must survive a power cut."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(out) as tmp, open(tmp, "wb") as handle:
        handle.write(raw)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
