"""Plain data across the sandbox wall: a strict JSON codec for numbers, strings, containers and numpy arrays.

Graded tests run in the grader; the student's functions run in the grading
kernel. Between the two only *plain data* travels (see docs/grading.md,
"Trusted verdicts"):

- ``None``, ``bool``, ``int``, ``float``, ``str`` (exactly those types, no subclasses);
- ``list``, ``tuple``, ``dict`` (exactly those types) of plain data; dict keys
  are hashable plain data;
- numpy arrays of boolean or numeric dtypes (:data:`PLAIN_DTYPES`) and numpy
  scalars of those dtypes; exact ``numpy.ndarray``, no subclasses, no object,
  string, structured or datetime dtypes.

Nothing is pickled and no object is ever rebuilt from a type name: decoding
builds only the types above, after checking every field. A payload that is
not exactly this (a wrong tag, an extra key, a bad dtype or shape, base64 that
does not match the shape, a reference to nothing, too deep, too large) raises
:class:`NotPlainData` with a one-line reason.

The wire format is JSON. Scalars are JSON scalars; every other value is a JSON
object with one tag: ``{"L": [...]}`` list, ``{"T": [...]}`` tuple,
``{"D": [[key, value], ...]}`` dict, ``{"A": [dtype, shape, base64]}`` array,
``{"S": [dtype, base64]}`` numpy scalar, ``{"R": n}`` a second reference to the
mutable value (list, dict, array) numbered ``n`` (each carries ``"id": n``), so
aliasing survives the trip. A value that the other side *sent* (an argument)
comes back with ``"orig": k`` (its number in the request): the decoder then
updates the caller's own object in place, which is how a function's in-place
changes (``np.clip(g, ..., out=g)``, ``list.append``) reach the caller.

This file is also sent, as source, to every grading kernel (it imports only
``base64``, ``json`` and ``numpy``). What the kernel does with it does not
matter: the grader decodes what comes back with its own copy.
"""

import base64
import binascii
import json

import numpy as np

MAX_DEPTH = 48  # nesting of containers
MAX_NDIM = 32
DEFAULT_MAX_BYTES = 64 * 1024**2  # one payload (JSON text); see settings.PROXY_MAX_PAYLOAD_BYTES

PLAIN_DTYPES = frozenset(np.dtype(t).str for t in (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
    np.float16, np.float32, np.float64, np.complex64, np.complex128))
_SCALARS = (type(None), bool, int, float, str)
_TAGS = {  # allowed key sets of a tagged JSON object
    frozenset({"L", "id"}), frozenset({"L", "id", "orig"}), frozenset({"T"}),
    frozenset({"D", "id"}), frozenset({"D", "id", "orig"}),
    frozenset({"A", "id"}), frozenset({"A", "id", "orig"}), frozenset({"S"}), frozenset({"R"}),
}


class NotPlainData(ValueError):
    """A value (or payload) is not plain data; the message says what and where."""


def _where(path):
    return path or "the value"


def _type_name(x):
    t = type(x)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


class Encoder:
    """Turns plain data into JSON-able nodes. One encoder per message: it numbers mutable values.

    ``origins`` maps ``id(obj)`` of objects that the other side sent (decoded
    by :class:`Decoder`) to their numbers there; those are encoded with ``"orig"``.
    """

    def __init__(self, origins=None, max_bytes=DEFAULT_MAX_BYTES):
        self.origins = origins or {}
        self.max_bytes = max_bytes
        self.memo = {}  # id(obj) -> number
        self.objects = {}  # number -> obj (what a request's numbers refer to)
        self._alive = []  # keeps encoded objects alive, so that no id() is reused meanwhile
        self._bytes = 0

    def _count(self, n, path):
        self._bytes += n
        if self._bytes > self.max_bytes:
            raise NotPlainData(f"{_where(path)}: more than {self.max_bytes} bytes of data")

    def _number(self, x):
        n = len(self.memo)
        self.memo[id(x)] = n
        self.objects[n] = x
        self._alive.append(x)
        node = {"id": n}
        if id(x) in self.origins:
            node["orig"] = self.origins[id(x)]
        return node

    def encode(self, x, path="", depth=0):
        if depth > MAX_DEPTH:
            raise NotPlainData(f"{_where(path)}: nested more than {MAX_DEPTH} levels deep")
        t = type(x)
        if t in _SCALARS:
            if t is str:
                self._count(len(x), path)
            elif t is int and x.bit_length() > 4096:
                raise NotPlainData(f"{_where(path)}: an integer with more than 4096 bits")
            return x
        if isinstance(x, np.generic):
            try:
                dt = np.dtype(t)
            except TypeError:
                dt = None
            if dt is None or t is not dt.type or dt.str not in PLAIN_DTYPES:
                raise NotPlainData(f"{_where(path)}: numpy scalar of type {_type_name(x)} is not plain data")
            return {"S": [dt.str, base64.b64encode(np.asarray(x).tobytes()).decode("ascii")]}
        if id(x) in self.memo and t in (list, dict, np.ndarray):
            return {"R": self.memo[id(x)]}
        if t is list:
            node = self._number(x)
            node["L"] = [self.encode(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(x)]
            return node
        if t is tuple:
            return {"T": [self.encode(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(x)]}
        if t is dict:
            node = self._number(x)
            items = []
            for k, v in list(x.items()):
                kk = self.encode(k, f"{path} key {k!r:.40}", depth + 1)
                items.append([kk, self.encode(v, f"{path}[{k!r:.40}]", depth + 1)])
            node["D"] = items
            return node
        if t is np.ndarray:
            dt = x.dtype
            if dt.byteorder not in ("=", "|", "<") and dt.str.lstrip("<>|=")[0] in "biufc":
                x = x.astype(dt.newbyteorder("<"))  # same values, little-endian
                dt = x.dtype
            if dt.str not in PLAIN_DTYPES:
                raise NotPlainData(f"{_where(path)}: a numpy array of dtype {dt} is not plain data "
                                   "(only boolean and numeric dtypes are)")
            if x.ndim > MAX_NDIM:
                raise NotPlainData(f"{_where(path)}: an array with more than {MAX_NDIM} dimensions")
            self._count(x.nbytes * 4 // 3 + 64, path)
            node = self._number(x)
            node["A"] = [dt.str, list(x.shape), base64.b64encode(np.ascontiguousarray(x).tobytes()).decode("ascii")]
            return node
        if isinstance(x, np.ndarray):
            raise NotPlainData(f"{_where(path)}: an ndarray subclass ({_type_name(x)}) is not plain data")
        raise NotPlainData(f"{_where(path)}: a {_type_name(x)} is not plain data")


def dumps(node):
    """The JSON text of an encoded node (ASCII, exact floats)."""
    return json.dumps(node, separators=(",", ":"), allow_nan=True)


def loads(text, max_bytes=DEFAULT_MAX_BYTES):
    """Parse JSON text strictly (size first, then nesting); :class:`NotPlainData` on anything wrong."""
    if not isinstance(text, (str, bytes)):
        raise NotPlainData("the payload is not text")
    if len(text) > max_bytes:
        raise NotPlainData(f"the payload is larger than {max_bytes} bytes")
    try:
        return json.loads(text)
    except RecursionError:
        raise NotPlainData("the payload is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotPlainData(f"the payload is not valid JSON ({str(exc)[:80]})") from None


class Decoder:
    """Builds plain values from nodes, checking everything. One decoder per message.

    ``originals`` maps request numbers to the caller's objects: a node with
    ``"orig": k`` updates ``originals[k]`` in place and decodes to it.
    After decoding, ``numbers`` maps ``id(obj)`` of every decoded mutable
    value to its number (the kernel encodes its answer with these as origins).
    """

    def __init__(self, originals=None, max_bytes=DEFAULT_MAX_BYTES):
        self.originals = originals or {}
        self.max_bytes = max_bytes
        self.by_number = {}
        self.numbers = {}
        self._used_origs = set()
        self._bytes = 0

    def _count(self, n, path):
        self._bytes += n
        if self._bytes > self.max_bytes:
            raise NotPlainData(f"{_where(path)}: more than {self.max_bytes} bytes of data")

    def _register(self, node, obj, path):
        n = node["id"]
        if type(n) is not int or n < 0 or n in self.by_number:
            raise NotPlainData(f"{_where(path)}: bad or repeated number {n!r:.20}")
        self.by_number[n] = obj
        self.numbers[id(obj)] = n

    def _target(self, node, kind, path):
        """The caller's object that a node with ``orig`` updates (or None)."""
        if "orig" not in node:
            return None
        k = node["orig"]
        if type(k) is not int or k not in self.originals or k in self._used_origs:
            raise NotPlainData(f"{_where(path)}: refers to an argument that was not sent ({k!r:.20})")
        target = self.originals[k]
        if type(target) is not kind:
            raise NotPlainData(f"{_where(path)}: an argument changed its type in place")
        self._used_origs.add(k)
        return target

    def decode(self, node, path="", depth=0):
        if depth > MAX_DEPTH:
            raise NotPlainData(f"{_where(path)}: nested more than {MAX_DEPTH} levels deep")
        t = type(node)
        if t in _SCALARS:
            if t is str:
                self._count(len(node), path)
            elif t is int and node.bit_length() > 4096:
                raise NotPlainData(f"{_where(path)}: an integer with more than 4096 bits")
            return node
        if t is not dict or frozenset(node) not in _TAGS:
            raise NotPlainData(f"{_where(path)}: not an encoded plain value")
        if "R" in node:
            n = node["R"]
            if type(n) is not int or n not in self.by_number:
                raise NotPlainData(f"{_where(path)}: a reference to nothing ({n!r:.20})")
            return self.by_number[n]
        if "T" in node:
            items = node["T"]
            if type(items) is not list:
                raise NotPlainData(f"{_where(path)}: a malformed tuple")
            return tuple(self.decode(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(items))
        if "L" in node:
            items = node["L"]
            if type(items) is not list:
                raise NotPlainData(f"{_where(path)}: a malformed list")
            target = self._target(node, list, path)
            out = target if target is not None else []
            self._register(node, out, path)
            values = [self.decode(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(items)]
            out[:] = values
            return out
        if "D" in node:
            items = node["D"]
            if type(items) is not list:
                raise NotPlainData(f"{_where(path)}: a malformed dict")
            target = self._target(node, dict, path)
            out = target if target is not None else {}
            self._register(node, out, path)
            pairs = []
            for i, kv in enumerate(items):
                if type(kv) is not list or len(kv) != 2:
                    raise NotPlainData(f"{_where(path)}: a malformed dict entry")
                key = self.decode(kv[0], f"{path} key {i}", depth + 1)
                try:
                    hash(key)
                except TypeError:
                    raise NotPlainData(f"{_where(path)}: a dict key that is not hashable") from None
                pairs.append((key, self.decode(kv[1], f"{path}[{key!r:.40}]", depth + 1)))
            out.clear()
            out.update(pairs)
            return out
        if "S" in node:
            spec = node["S"]
            if type(spec) is not list or len(spec) != 2:
                raise NotPlainData(f"{_where(path)}: a malformed numpy scalar")
            dt = self._dtype(spec[0], path)
            raw = self._bytes_of(spec[1], dt.itemsize, path)
            return np.frombuffer(raw, dtype=dt)[0]
        spec = node["A"]
        if type(spec) is not list or len(spec) != 3:
            raise NotPlainData(f"{_where(path)}: a malformed array")
        dt = self._dtype(spec[0], path)
        shape = spec[1]
        if (type(shape) is not list or len(shape) > MAX_NDIM
                or any(type(s) is not int or s < 0 for s in shape)):
            raise NotPlainData(f"{_where(path)}: a malformed array shape")
        size = 1
        for s in shape:
            size *= s
        self._count(size * dt.itemsize, path)
        raw = self._bytes_of(spec[2], size * dt.itemsize, path)
        value = np.frombuffer(raw, dtype=dt).reshape(shape).copy()
        target = self._target(node, np.ndarray, path)
        if target is None:
            self._register(node, value, path)
            return value
        if target.shape != value.shape or target.dtype != value.dtype:
            raise NotPlainData(f"{_where(path)}: an argument array changed its shape or dtype in place "
                               f"({target.dtype}{list(target.shape)} -> {value.dtype}{list(value.shape)})")
        if np.ascontiguousarray(target).tobytes() != raw:
            target[...] = value
        self._register(node, target, path)
        return target

    def _dtype(self, text, path):
        if type(text) is not str or text not in PLAIN_DTYPES:
            raise NotPlainData(f"{_where(path)}: dtype {text!r:.30} is not a plain (boolean or numeric) dtype")
        return np.dtype(text)

    def _bytes_of(self, text, expected, path):
        if type(text) is not str:
            raise NotPlainData(f"{_where(path)}: malformed array data")
        try:
            raw = base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise NotPlainData(f"{_where(path)}: array data is not valid base64") from None
        if len(raw) != expected:
            raise NotPlainData(f"{_where(path)}: array data has {len(raw)} bytes, its shape needs {expected}")
        return raw


def encode(value, max_bytes=DEFAULT_MAX_BYTES):
    """One value as a node (no origins)."""
    return Encoder(max_bytes=max_bytes).encode(value)


def decode(node, max_bytes=DEFAULT_MAX_BYTES):
    """One node as a fresh value (no originals)."""
    return Decoder(max_bytes=max_bytes).decode(node)


def check_random_state(state):
    """``state`` if it is exactly what ``np.random.get_state()`` gives for MT19937, else NotPlainData."""
    ok = (type(state) is tuple and len(state) == 5 and state[0] == "MT19937"
          and type(state[1]) is np.ndarray and state[1].dtype == np.uint32 and state[1].shape == (624,)
          and type(state[2]) is int and 0 <= state[2] <= 624
          and type(state[3]) is int and state[3] in (0, 1) and type(state[4]) is float)
    if not ok:
        raise NotPlainData("numpy's random state came back malformed")
    return state


def random_state():
    """numpy's global random state, as plain data (``np.random.get_state()`` with exact Python types)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return (str(name), np.asarray(keys, dtype=np.uint32), int(pos), int(has_gauss), float(cached))
