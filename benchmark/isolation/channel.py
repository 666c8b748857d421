"""One end of the harness <-> method-process connection: framed wire messages over a Unix socket.

A frame is ``MAGIC | uint32 LE header length | header | inline buffers``; the header is the JSON of
``benchmark.isolation.wire``. Arrays of at least ``BULK_THRESHOLD`` bytes do not go through the
socket: they are written to the sender's *bulk file*, an anonymous shared-memory file
(``memfd_create``) that both processes hold open, and read back with ``pread`` into a fresh buffer.

The harness creates both bulk files, so it never maps memory the method process controls: it copies
what it receives out of the file before looking at it (no time-of-check/time-of-use window, and a
file truncated under it gives a short read, a ``WireError``, never a SIGBUS). Each message is read
completely before the next one is sent, so a sender can always write its bulk data from offset 0.

CUDA tensors cross as CPU copies today. The seam for a same-GPU fast path is ``BulkFile``: a
harness-owned CUDA buffer exported once with CUDA IPC, written by the method process and copied out
by the harness, keeps the same ownership rule (the harness never opens a handle the method made).
"""

from __future__ import annotations

import os
import socket
import struct
import time
from typing import Any

import numpy as np

from benchmark.isolation.wire import BufferSpec, Limits, WireError, as_array, encode, header_bytes, parse_header, resolve

MAGIC = b"BGW1"
_LEN = struct.Struct("<I")
BULK_THRESHOLD = 1 << 20
_CHUNK = 1 << 24


class ChannelClosed(WireError):
    """The other end closed the connection (its process exited or crashed)."""


class ChannelTimeout(WireError):
    """No complete message arrived before the deadline."""


def new_bulk_file(name: str) -> int:
    """A file descriptor of an anonymous shared-memory file (a temporary file where memfd is missing)."""
    if hasattr(os, "memfd_create"):
        return os.memfd_create(f"bgbench-{name}", os.MFD_CLOEXEC)
    import tempfile

    fd, path = tempfile.mkstemp(prefix=f"bgbench-{name}-")
    os.unlink(path)
    return fd


class BulkFile:
    """Large arrays of one direction: written at offsets by the sender, copied out by the receiver."""

    def __init__(self, fd: int):
        self.fd = fd

    def write(self, offset: int, data: memoryview) -> None:
        done = 0
        while done < len(data):
            done += os.pwrite(self.fd, data[done : done + _CHUNK], offset + done)

    def read(self, offset: int, nbytes: int) -> bytearray:
        buf = bytearray(nbytes)
        view, done = memoryview(buf), 0
        while done < nbytes:
            n = os.preadv(self.fd, [view[done : done + _CHUNK]], offset + done)
            if n <= 0:
                raise WireError(f"bulk buffer truncated: {done} of {nbytes} bytes at offset {offset}")
            done += n
        return buf


class Channel:
    """Send and receive whole messages; ``recv`` waits at most until ``deadline`` (time.monotonic)."""

    def __init__(self, sock: socket.socket, bulk_out: BulkFile | None = None, bulk_in: BulkFile | None = None,
                 limits: Limits = Limits(), bulk_threshold: int = BULK_THRESHOLD):
        self.sock = sock
        self.bulk_out, self.bulk_in = bulk_out, bulk_in
        self.limits = limits
        self.bulk_threshold = bulk_threshold

    # --- sending -------------------------------------------------------------------------------
    def send(self, value: Any, deadline: float | None = None) -> None:
        """Send one message; a receiver that stops reading cannot block us past ``deadline``."""
        body, arrays = encode(value, self.limits)
        specs, inline, offset = [], [], 0
        for arr in arrays:
            data = memoryview(arr.reshape(-1).view(np.uint8))
            if self.bulk_out is not None and arr.nbytes >= self.bulk_threshold:
                self.bulk_out.write(offset, data)
                specs.append(BufferSpec(arr.dtype, arr.shape, "bulk", offset))
                offset += arr.nbytes
            else:
                specs.append(BufferSpec(arr.dtype, arr.shape, "inline"))
                inline.append(data)
        header = header_bytes(body, specs)
        if len(header) > self.limits.max_header_bytes:
            raise WireError(f"message header of {len(header)} bytes exceeds {self.limits.max_header_bytes}")
        try:
            for data in (MAGIC + _LEN.pack(len(header)) + header, *inline):
                self.sock.settimeout(self._left(deadline))
                self.sock.sendall(data)
        except TimeoutError:
            raise ChannelTimeout("timed out while sending") from None
        except OSError as err:
            raise ChannelClosed(f"connection lost ({err})") from None

    @staticmethod
    def _left(deadline: float | None) -> float | None:
        if deadline is None:
            return None
        left = deadline - time.monotonic()
        if left <= 0:
            raise ChannelTimeout("timed out")
        return left

    # --- receiving -----------------------------------------------------------------------------
    def _read_exact(self, n: int, deadline: float | None) -> bytearray:
        buf = bytearray(n)
        view, got = memoryview(buf), 0
        while got < n:
            self.sock.settimeout(self._left(deadline))
            try:
                k = self.sock.recv_into(view[got:], min(n - got, _CHUNK))
            except TimeoutError:
                raise ChannelTimeout("timed out") from None
            except (ConnectionError, OSError) as err:
                raise ChannelClosed(f"connection lost ({err})") from None
            if k == 0:
                raise ChannelClosed("the other end closed the connection")
            got += k
        return buf

    def recv(self, deadline: float | None = None) -> Any:
        prefix = self._read_exact(len(MAGIC) + _LEN.size, deadline)
        if bytes(prefix[: len(MAGIC)]) != MAGIC:
            raise WireError("message does not start with the bgbench wire magic")
        (length,) = _LEN.unpack_from(prefix, len(MAGIC))
        if length > self.limits.max_header_bytes:
            raise WireError(f"header of {length} bytes exceeds {self.limits.max_header_bytes}")
        body, specs = parse_header(self._read_exact(length, deadline), self.limits)
        arrays: list[np.ndarray] = []
        for spec in specs:
            if spec.where == "inline":
                arrays.append(as_array(spec, self._read_exact(spec.nbytes, deadline)))
            elif self.bulk_in is None:
                raise WireError("bulk buffer sent on a channel without a bulk file")
            else:
                arrays.append(as_array(spec, self.bulk_in.read(spec.offset, spec.nbytes)))
        return resolve(body, arrays, self.limits)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


__all__ = ["BULK_THRESHOLD", "BulkFile", "Channel", "ChannelClosed", "ChannelTimeout", "new_bulk_file"]
