"""The wire format between the harness and a method process: a JSON header plus raw array buffers.

Why not pickle: unpickling runs code chosen by whoever wrote the bytes, so a harness that unpickled
what a submission's process sends would run the submission inside the harness, and every other
protection would be moot. This format carries data only: JSON values and arrays of a few plain
numeric dtypes, each described by (dtype, shape) and read into a fresh buffer of exactly that size.
Nothing in a message names a type to construct or a function to call.

A message is a JSON value in which arrays are replaced by placeholders::

    {"$array": i}   a NumPy array, buffer i
    {"$tensor": i}  a torch tensor on the CPU, buffer i (the receiver moves it where it needs it)

and a header ``{"body": <value>, "buffers": [{"dtype": "<f8", "shape": [2, 22, 3], "where":
"inline"|"bulk", "offset": 0}, ...]}``. Buffers are little-endian. Dictionaries with a "$" key are
refused on encoding, so a method's own data can never be mistaken for a placeholder.

Limits (``Limits``) bound the header, the number and size of buffers, the dimensions and the JSON
nesting; a message that breaks one, or any malformed message, raises ``WireError``, never
anything else, so the harness can record "the method sent a malformed message" and go on.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from benchmark.errors import BgbenchError

ARRAY, TENSOR = "$array", "$tensor"

#: The only dtypes that cross the boundary (little-endian); bfloat16 travels as float32.
DTYPES: dict[str, np.dtype] = {d.str: d for d in map(np.dtype, ("<f2", "<f4", "<f8", "<i1", "<i2", "<i4", "<i8", "|u1", "|b1"))}


class WireError(BgbenchError):
    """A message that is malformed or breaks a size limit."""


@dataclass(frozen=True)
class Limits:
    """Bounds on one message from an untrusted sender (defaults fit paper-tier batches with room)."""

    max_header_bytes: int = 16 << 20
    max_payload_bytes: int = 4 << 30
    max_buffers: int = 256
    max_ndim: int = 8
    max_depth: int = 64


@dataclass(frozen=True)
class BufferSpec:
    """Where one array's bytes are and how to read them."""

    dtype: np.dtype
    shape: tuple[int, ...]
    where: str  # "inline": after the header on the stream; "bulk": in the sender's bulk file at ``offset``
    offset: int = 0

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


# --- encoding (the sender) -------------------------------------------------------------------


def _as_array(x: np.ndarray | torch.Tensor) -> tuple[np.ndarray, str]:
    if isinstance(x, torch.Tensor):
        t = x.detach()
        if t.dtype == torch.bfloat16:
            t = t.float()
        return t.cpu().contiguous().numpy(), TENSOR
    return np.asarray(x), ARRAY


def encode(value: Any, limits: Limits = Limits()) -> tuple[dict, list[np.ndarray]]:
    """``value`` as a JSON-ready body with placeholders, and the arrays it refers to (little-endian, contiguous)."""
    arrays: list[np.ndarray] = []

    def walk(obj: Any, depth: int) -> Any:
        if depth > limits.max_depth:
            raise WireError(f"value nested deeper than {limits.max_depth} levels")
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, (int, float)):
            return obj
        if isinstance(obj, (np.integer, np.floating, np.bool_)):
            return obj.item()
        if isinstance(obj, (np.ndarray, torch.Tensor)):
            arr, kind = _as_array(obj)
            dtype = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
            if dtype.str not in DTYPES:
                raise WireError(f"arrays of dtype {arr.dtype} cannot be sent; use float32/float64 or an integer type")
            arrays.append(np.ascontiguousarray(arr, dtype=dtype))
            return {kind: len(arrays) - 1}
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                if not isinstance(k, str):
                    raise WireError(f"dictionary keys must be strings, got {type(k).__name__}")
                if k.startswith("$"):
                    raise WireError(f"dictionary key {k!r} is reserved by the wire format")
                out[k] = walk(v, depth + 1)
            return out
        if isinstance(obj, (list, tuple)):
            return [walk(v, depth + 1) for v in obj]
        raise WireError(f"values of type {type(obj).__name__} cannot be sent; send numbers, strings, lists, dicts and arrays")

    return walk(value, 0), arrays


def header_bytes(body: Any, specs: list[BufferSpec]) -> bytes:
    buffers = [{"dtype": s.dtype.str, "shape": list(s.shape), "where": s.where, "offset": s.offset} for s in specs]
    return json.dumps({"body": body, "buffers": buffers}, separators=(",", ":")).encode()


# --- decoding (the receiver) -----------------------------------------------------------------


def _int(value: Any, what: str) -> int:
    if type(value) is not int or value < 0:  # bool is not a size
        raise WireError(f"{what} must be a non-negative integer")
    return value


def parse_header(data: bytes | bytearray, limits: Limits = Limits()) -> tuple[Any, list[BufferSpec]]:
    """The body and buffer specs of a header; WireError for anything malformed or over a limit."""
    if len(data) > limits.max_header_bytes:
        raise WireError(f"header of {len(data)} bytes exceeds {limits.max_header_bytes}")
    try:
        header = json.loads(bytes(data).decode("utf-8"))
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise WireError(f"header is not valid UTF-8 JSON ({type(err).__name__})") from None
    if not isinstance(header, dict) or set(header) != {"body", "buffers"} or not isinstance(header["buffers"], list):
        raise WireError("header must be an object with exactly 'body' and 'buffers'")
    if len(header["buffers"]) > limits.max_buffers:
        raise WireError(f"{len(header['buffers'])} buffers exceed the limit of {limits.max_buffers}")
    specs, total = [], 0
    for i, raw in enumerate(header["buffers"]):
        if not isinstance(raw, dict) or set(raw) != {"dtype", "shape", "where", "offset"}:
            raise WireError(f"buffer {i} is not a buffer description")
        if raw["dtype"] not in DTYPES:
            raise WireError(f"buffer {i} has dtype {raw['dtype']!r}, not one of {sorted(DTYPES)}")
        if not isinstance(raw["shape"], list) or len(raw["shape"]) > limits.max_ndim:
            raise WireError(f"buffer {i} has no valid shape (at most {limits.max_ndim} dimensions)")
        shape = tuple(_int(n, f"buffer {i} shape") for n in raw["shape"])
        if raw["where"] not in ("inline", "bulk"):
            raise WireError(f"buffer {i} has an unknown location {raw['where']!r}")
        spec = BufferSpec(DTYPES[raw["dtype"]], shape, raw["where"], _int(raw["offset"], f"buffer {i} offset"))
        total += spec.nbytes
        if total > limits.max_payload_bytes:
            raise WireError(f"message arrays exceed {limits.max_payload_bytes} bytes")
        specs.append(spec)
    return header["body"], specs


def as_array(spec: BufferSpec, buf: bytearray) -> np.ndarray:
    """A writable array over a freshly received buffer (which the receiver alone owns)."""
    if len(buf) != spec.nbytes:
        raise WireError(f"buffer of {len(buf)} bytes, expected {spec.nbytes}")
    return np.frombuffer(buf, dtype=spec.dtype).reshape(spec.shape)


def resolve(body: Any, arrays: list[np.ndarray], limits: Limits = Limits()) -> Any:
    """Replace placeholders in ``body`` by the received arrays; each buffer is used at most once."""
    used: set[int] = set()

    def walk(obj: Any, depth: int) -> Any:
        if depth > limits.max_depth:
            raise WireError(f"value nested deeper than {limits.max_depth} levels")
        if isinstance(obj, dict):
            if any(k.startswith("$") for k in obj):
                if len(obj) != 1 or next(iter(obj)) not in (ARRAY, TENSOR):
                    raise WireError("malformed array placeholder")
                (kind, index), = obj.items()
                if type(index) is not int or not 0 <= index < len(arrays) or index in used:
                    raise WireError("array placeholder refers to no (unused) buffer")
                used.add(index)
                return torch.from_numpy(arrays[index]) if kind == TENSOR else arrays[index]
            return {k: walk(v, depth + 1) for k, v in obj.items()}
        if isinstance(obj, list):
            return [walk(v, depth + 1) for v in obj]
        return obj

    return walk(body, 0)


__all__ = ["DTYPES", "BufferSpec", "Limits", "WireError", "as_array", "encode", "header_bytes", "parse_header", "resolve"]
