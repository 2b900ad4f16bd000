"""Chunks of pure-Python work shared between the parent and forked children.

A large export renders thousands of cards; the machines it runs on have two
cores or more, and the .apkg writer (genanki) keeps one of them busy. So the
rendering of a large batch is shared with forked children, which inherit the
cards and everything else they need: nothing is pickled on the way in, and
each result comes back pickled through a pipe, which a thread of the parent
empties as results arrive.

Who does which chunk is decided as they go: the chunk numbers wait in a pipe
(tickets), in order, and whoever is free takes the next one: a child as soon
as it has sent its last result, the parent whenever the chunk it needs next is
not there yet. The parent consumes the results in order, note by note as it
writes them, so it renders only when the children are behind; the work splits
itself between the cores, whatever else the machine is doing.

Forking is only done where it is plain and safe: on Linux (macOS frameworks do
not survive fork, Windows has none); the children only compute and write to
their pipe, and leave with os._exit (no atexit handlers, no flushing of stdio
buffers they inherited); the parent forks before it starts its thread. A child
that fails in any way only costs speed: what it took and did not send, the
parent does itself. Nothing here prints.
"""

from __future__ import annotations

import contextlib
import os
import signal
import struct
import sys
import threading
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait

try:
    import fcntl
except ImportError:  # Windows: no fork there either
    fcntl = None  # type: ignore[assignment]

MAX_WORKERS = 3
MAX_CHUNKS = 16_000  # tickets of 4 bytes: a pipe's default 64 KiB buffer holds them all
_TICKET = struct.Struct("=I")


def worker_count(tasks: int, minimum: int) -> int:
    """How many children to fork for ``tasks`` items of work: none below
    ``minimum`` items, off Linux, or on one core; else one per core but the
    parent's, at most MAX_WORKERS."""
    if tasks < minimum or not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return 0
    cores = len(os.sched_getaffinity(0))
    return max(0, min(cores - 1, MAX_WORKERS))


class Forked:
    """``work(chunk)`` for each of ``chunks`` (at most MAX_CHUNKS), shared by the
    parent and ``workers`` forked children; ``result(k)`` gives chunk k's result,
    doing it here if no child has taken it. OSError if no child could be had
    (then none is left running)."""

    def __init__(
        self, work: Callable[[Sequence[int]], list], chunks: list[list[int]], workers: int
    ):
        if len(chunks) > MAX_CHUNKS:
            raise ValueError(f"at most {MAX_CHUNKS} chunks")
        self.work = work
        self.chunks = chunks
        self._done: dict[int, list] = {}  # results, from the children or the parent
        self._finished = 0  # children that sent their last result (or died)
        self._arrived = threading.Condition()
        self._conns: list[Connection] = []
        self._pids: list[int] = []
        self._reader: threading.Thread | None = None
        self._tickets = -1
        try:
            self._tickets = self._fill_tickets(len(chunks))
            for _ in range(workers):
                self._fork()
        except OSError:  # no more processes or pipes to be had
            self.close()
            raise
        self._reader = threading.Thread(target=self._receive_all, daemon=True)
        self._reader.start()

    @staticmethod
    def _fill_tickets(count: int) -> int:
        """A pipe holding 0, 1, ..., count - 1, its writing end closed: reading it
        once it is empty says so (b"") instead of waiting."""
        read_fd, write_fd = os.pipe()
        data = memoryview(b"".join(_TICKET.pack(k) for k in range(count)))
        try:
            while data:
                data = data[os.write(write_fd, data) :]
        except OSError:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        return read_fd

    def _take_ticket(self) -> int | None:
        """The next chunk nobody has taken (now it is ours), or None."""
        data = os.read(self._tickets, _TICKET.size)  # one read of 4 bytes: atomic
        return _TICKET.unpack(data)[0] if data else None

    def _fork(self) -> None:
        read_fd, write_fd = os.pipe()
        _widen(write_fd)
        sys.stdout.flush()  # nothing buffered may be written twice
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_fd)
            os.close(write_fd)
            raise
        if pid == 0:  # the child: of the parent's pipes, it keeps the tickets and its own
            os.close(read_fd)
            for conn in self._conns:
                os.close(conn.fileno())
            _child(write_fd, self)
        os.close(write_fd)
        self._conns.append(Connection(read_fd, writable=False))
        self._pids.append(pid)

    def _receive_all(self) -> None:
        """The parent's thread: each (chunk, result) as it arrives, until every child
        has closed its pipe."""
        live = list(self._conns)
        while live:
            for conn in wait(live):
                message = None
                with contextlib.suppress(Exception):  # EOF: done or dead; or garbage
                    message = conn.recv()
                with self._arrived:
                    if isinstance(message, tuple) and len(message) == 2:
                        self._done[message[0]] = message[1]
                    else:
                        live.remove(conn)
                        self._finished += 1
                    self._arrived.notify_all()

    def result(self, k: int) -> list:
        """Chunk k's result: a child's, or done here. While it waits for it, the
        parent takes the next chunk no child has taken (it never idles while there
        is work; the children never wait for it)."""
        while True:
            with self._arrived:
                if k in self._done:
                    return self._done.pop(k)
                if self._finished == len(self._pids):  # no child will send it
                    return self.work(self.chunks[k])
            taken = self._take_ticket()
            if taken is None:  # a child has it: wait for it (or for the children to end)
                with self._arrived:
                    while k not in self._done and self._finished < len(self._pids):
                        self._arrived.wait()
                continue
            done = self.work(self.chunks[taken])
            if taken == k:
                return done
            with self._arrived:  # a child is doing k: this one is for later
                self._done[taken] = done

    def close(self) -> None:
        """Reap the children; one still working is ended first."""
        for pid in self._pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # a child that is done is a zombie: no harm
        for pid in self._pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        if self._reader is not None:
            self._reader.join()
            self._reader = None
        for conn in self._conns:
            conn.close()
        self._conns = []
        if self._tickets >= 0:
            os.close(self._tickets)
            self._tickets = -1

    def __enter__(self) -> Forked:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _widen(fd: int) -> None:
    """A results pipe of 1 MiB (Linux's default most), not 64 KiB: a chunk's result is
    larger than 64 KiB, and the parent's reader thread empties the pipe only when it
    gets the interpreter lock (the main thread, writing notes, yields it every few
    ms); with the small pipe a child spent about 40% of an export blocked on write."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if set_size is not None:
        with contextlib.suppress(OSError):  # a lower system limit: the default size
            fcntl.fcntl(fd, set_size, 1 << 20)


def _child(write_fd: int, forked: Forked) -> None:
    """The forked child: take tickets and send each result, until none is left; then
    leave without any cleanup of the parent's (os._exit). Ctrl-C or a failure ends
    it quietly; the parent does the chunk it had taken."""
    code = 1
    try:
        import gc

        gc.disable()  # a collection would touch (and so copy) the parent's whole heap
        sys.setprofile(None)  # a profiler or debugger of the parent's is not this one's
        sys.settrace(None)
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C: the parent cleans up
        conn = Connection(write_fd, readable=False)
        while (k := forked._take_ticket()) is not None:
            conn.send((k, forked.work(forked.chunks[k])))
        conn.close()
        code = 0
    except BaseException:  # noqa: BLE001 - whatever it is, the parent does that chunk
        pass
    finally:
        os._exit(code)
