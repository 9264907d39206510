"""The plain-data codec and the grader's unpacking of a call's answer (fast: no kernel).

A call's answer is built here the way the kernel stub builds it (same codec),
or forged by hand the way a hostile kernel could; the grader must accept
exactly plain data and turn anything else into a wrong answer.
"""

import ast
import base64
import io
import json
import types
from contextlib import redirect_stdout

import numpy as np
import pytest

from coursetools.kernel import plaindata
from coursetools.kernel import stub as kernel_stub
from coursetools.kernel.plaindata import Decoder, Encoder, NotPlainData
from coursetools.security.proxy import FunctionProxy, StudentError, student_exception


def roundtrip(value):
    return plaindata.decode(plaindata.loads(plaindata.dumps(plaindata.encode(value))))


@pytest.mark.parametrize("value", [
    None, True, False, 0, -3, 2**100, 1.5, float("inf"), -0.0, "", "héllo\n\"'", [], (), {},
    [1, [2, [3, (4, 5)]]], {"a": 1, 2: "b", (1, 2): None, 3.5: [1]},
])
def test_plain_python_values_round_trip_with_their_types(value):
    back = roundtrip(value)
    assert back == value and type(back) is type(value)
    assert repr(back) == repr(value)


def test_nan_round_trips():
    assert np.isnan(roundtrip(float("nan")))


@pytest.mark.parametrize("dtype", ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                                   "uint64", "float16", "float32", "float64", "complex64", "complex128"])
def test_arrays_of_every_plain_dtype_round_trip_exactly(dtype):
    a = (np.arange(24).reshape(2, 3, 4) % 7).astype(dtype)
    back = roundtrip(a)
    assert type(back) is np.ndarray and back.dtype == a.dtype and back.shape == a.shape
    assert back.tobytes() == a.tobytes() and back.flags.writeable


def test_numpy_scalars_keep_their_type_and_repr():
    for x in (np.int64(12), np.float64(0.1), np.bool_(True), np.uint8(3), np.float32(1.5)):
        back = roundtrip(x)
        assert type(back) is type(x) and back == x and repr(back) == repr(x)


def test_odd_layouts_and_byte_orders_come_back_as_the_same_values():
    a = np.arange(12.0).reshape(3, 4)
    for view in (a.T, a[:, ::2], np.asfortranarray(a), a.astype(">f8"), np.zeros((0, 3)), np.float64(3.0) * np.ones(())):
        back = roundtrip(view)
        assert np.array_equal(back, view) and back.shape == view.shape


def test_aliasing_survives_the_trip():
    a = np.ones(3)
    shared = [1]
    back = roundtrip({"x": a, "y": a, "l": [shared, shared]})
    assert back["x"] is back["y"] and back["l"][0] is back["l"][1]


def test_cycles_round_trip():
    loop = [1]
    loop.append(loop)
    back = roundtrip(loop)
    assert back[1] is back


class Weird(float):
    def __eq__(self, other):
        return True


class Sub(np.ndarray):
    pass


@pytest.mark.parametrize("value, words", [
    (Weird(1.0), "Weird"),
    (np.arange(3).view(Sub), "subclass"),
    (np.array([object()]), "dtype object"),
    (np.array(["a"]), "dtype <U1"),
    (np.zeros(2, dtype=[("a", "f8")]), "dtype"),
    (np.array(["2020-01-01"], dtype="datetime64[D]"), "dtype"),
    (object(), "object"),
    (lambda: 1, "function"),
    ({1, 2}, "set"),
    (io.StringIO(), "StringIO"),
    (type("D", (dict,), {})(), "D"),
    (np.longdouble(1), "numpy scalar"),
])
def test_values_that_are_not_plain_data_are_refused_with_a_reason(value, words):
    with pytest.raises(NotPlainData, match=words):
        plaindata.encode(value)


def test_deep_nesting_and_size_are_capped():
    deep = []
    for _ in range(plaindata.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(NotPlainData, match="nested"):
        plaindata.encode(deep)
    with pytest.raises(NotPlainData, match="bytes"):
        plaindata.Encoder(max_bytes=1000).encode(np.zeros(1000))


@pytest.mark.parametrize("node, words", [
    ({"A": ["|O", [1], "AAAAAAAAAAA="], "id": 0}, "dtype"),
    ({"A": ["<f8", [2], "AAAAAAAAAAA="], "id": 0}, "8 bytes, its shape needs 16"),
    ({"A": ["<f8", [-1], ""], "id": 0}, "shape"),
    ({"A": ["<f8", [1], "!!!"], "id": 0}, "base64"),
    ({"A": ["<f8", [1], "AAAAAAAAAAA="]}, "not an encoded"),
    ({"L": [], "id": 0, "evil": 1}, "not an encoded"),
    ({"P": "gASVAAAA"}, "not an encoded"),
    ({"R": 7}, "reference to nothing"),
    ({"L": [{"L": [], "id": 0}], "id": 0}, "repeated number"),
    ({"D": [[{"L": [], "id": 1}, 1]], "id": 0}, "not hashable"),
    ({"D": [[1]], "id": 0}, "malformed dict entry"),
    ({"S": ["<f8", "AAA="]}, "bytes"),
    ({"L": [], "id": 0, "orig": 3}, "not sent"),
    ([1, 2], "not an encoded"),
])
def test_malformed_payloads_are_refused_with_a_reason(node, words):
    with pytest.raises(NotPlainData, match=words):
        plaindata.decode(node)


def test_raw_payload_checks():
    with pytest.raises(NotPlainData, match="larger"):
        plaindata.loads("1" * 100, max_bytes=10)
    with pytest.raises(NotPlainData, match="nested too deeply|not valid"):
        plaindata.loads("[" * 100000 + "]" * 100000)
    with pytest.raises(NotPlainData, match="not valid JSON"):
        plaindata.loads("{'a': 1}")


def test_in_place_changes_land_in_the_callers_objects_and_replaced_entries_replace():
    grads = {"dWax": np.array([5.0, -9.0]), "db": np.array([1.0])}
    keep_dwax, keep_db = grads["dWax"], grads["db"]
    history = [1.0]
    enc = Encoder()
    node = enc.encode(([grads, history], {}))
    # the kernel's side: decode, change in place / replace / append, answer with origins
    dec = Decoder()
    (k_args, k_kwargs) = dec.decode(json.loads(plaindata.dumps(node)))
    k_grads, k_hist = k_args
    np.clip(k_grads["dWax"], -5, 5, out=k_grads["dWax"])
    k_grads["db"] = np.array([0.5])
    k_hist.append(2.0)
    answer = Encoder(origins=dec.numbers).encode((k_args, k_kwargs, k_grads))
    value = Decoder(originals=enc.objects).decode(json.loads(plaindata.dumps(answer)))
    result = value[2]
    assert result is grads, "the function returned its argument: the caller gets its own dict back"
    assert grads["dWax"] is keep_dwax and np.array_equal(keep_dwax, [5.0, -5.0]), "changed in place"
    assert grads["db"] is not keep_db and np.array_equal(keep_db, [1.0]), "a replaced entry leaves the old array alone"
    assert history == [1.0, 2.0]


def test_an_argument_may_not_change_shape_or_type_in_place():
    enc = Encoder()
    enc.encode(([np.zeros(3)], {}))
    forged = {"T": [{"L": [{"A": ["<f8", [2], base64.b64encode(bytes(16)).decode()], "id": 1, "orig": 1}],
                     "id": 0, "orig": 0}, {"D": [], "id": 2}, None]}
    with pytest.raises(NotPlainData, match="shape or dtype"):
        Decoder(originals=enc.objects).decode(forged)
    forged = {"T": [{"D": [], "id": 0, "orig": 0}, {"D": [], "id": 1}, None]}
    with pytest.raises(NotPlainData, match="changed its type"):
        Decoder(originals=enc.objects).decode(forged)


def test_random_state_is_checked():
    state = plaindata.random_state()
    assert plaindata.check_random_state(roundtrip(state)) is not None
    for bad in [("PCG64",) + state[1:], state[:4], (state[0], state[1][:5]) + state[2:],
                (state[0], state[1], 700, 0, 0.0), (state[0], state[1].astype(np.int64)) + state[2:]]:
        with pytest.raises(NotPlainData):
            plaindata.check_random_state(bad)


# ----- the grader's unpacking of a call (a fake link answers like a kernel, or a forger) ------------


class FakeLink:
    """Answers a call by running ``fn`` locally the way the kernel stub does (or returns a forged answer)."""

    max_bytes = plaindata.DEFAULT_MAX_BYTES
    max_output_chars = 10000

    def __init__(self, fn=None, forged=None):
        self.fn, self.forged, self.restored = fn, forged, []

    def request(self, op, payload, what):
        if self.forged is not None:
            return self.forged
        dec = Decoder()
        args, kwargs = dec.decode(json.loads(json.dumps(payload["args"])))
        np.random.set_state(plaindata.decode(payload["random_state"]))
        out = io.StringIO()
        error = None
        result = None
        try:
            with redirect_stdout(out):
                result = self.fn(*args, **kwargs)
        except Exception as exc:
            error = {"type": type(exc).__name__, "message": str(exc), "traceback": "Traceback: in the student's code\n"}
        answer = {"stdout": out.getvalue(), "stderr": "", "restored": [], "error": error,
                  "random_state": plaindata.encode(plaindata.random_state())}
        try:
            answer["value"] = Encoder(origins=dec.numbers).encode((args, kwargs, result))
        except NotPlainData as exc:
            answer["error"] = {"type": "NotPlainData", "message": str(exc), "traceback": ""}
        return json.loads(json.dumps(answer))


def test_a_proxy_call_behaves_like_the_function():
    def clip(g, m):
        for v in g.values():
            np.clip(v, -m, m, out=v)
        print("clipped")
        np.random.seed(5)
        return g

    grads = {"a": np.array([7.0, -7.0])}
    keep = grads["a"]
    out = io.StringIO()
    with redirect_stdout(out):
        result = FunctionProxy("clip", FakeLink(clip))(grads, 5)
    assert result is grads and np.array_equal(keep, [5.0, -5.0])
    assert out.getvalue() == "clipped\n"
    np.random.seed(5)
    expected = np.random.rand()
    np.random.seed(0)
    with redirect_stdout(io.StringIO()):
        FunctionProxy("clip", FakeLink(clip))(grads, 5)
    assert np.random.rand() == expected, "numpy's random state after the call is the function's"


def test_student_exceptions_come_back_as_the_same_builtin_type():
    def stub(*args):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError) as info:
        FunctionProxy("clip", FakeLink(stub))({}, 1)
    assert "student's code" in info.value.kernel_traceback
    assert isinstance(student_exception("f", {"type": "MemoryError", "message": "", "traceback": ""}), MemoryError)
    odd = student_exception("f", {"type": "SystemExit", "message": "1", "traceback": ""})
    assert isinstance(odd, StudentError) and "SystemExit" in str(odd)
    assert isinstance(student_exception("f", {"type": "NotPlainData", "message": "x", "traceback": ""}), AssertionError)


def test_returning_something_that_is_not_plain_data_is_a_wrong_answer():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    with pytest.raises(AssertionError, match="not plain data.*AlwaysEqual"):
        FunctionProxy("sample", FakeLink(lambda *a: AlwaysEqual()))()
    with pytest.raises(AssertionError, match="not plain data.*subclass"):
        FunctionProxy("sample", FakeLink(lambda *a: np.arange(3).view(Sub)))()


@pytest.mark.parametrize("forged, words", [
    ({"value": {"T": [{"L": [], "id": 0, "orig": 0}, {"D": [], "id": 1, "orig": 1}, {"P": "x"}]}}, "not an encoded"),
    ({"value": {"T": [{"L": [], "id": 0, "orig": 0}, {"D": [], "id": 1, "orig": 1},
                      {"A": ["|O", [1], "AAAAAAAAAAA="], "id": 2}]}}, "dtype"),
    ({"stdout": 5, "value": None}, "not text"),
    ({"random_state": {"T": ["MT19937"]}, "value": None}, "random state"),
    ({}, "no return value"),
    ({"value": {"T": [1, 2]}}, "wrong shape"),
    ({"error": "boom"}, "malformed answer"),
])
def test_forged_answers_are_wrong_answers(forged, words):
    with pytest.raises(AssertionError, match=words):
        FunctionProxy("clip", FakeLink(forged=forged))({}, 1)


def test_a_test_passing_a_non_plain_argument_gets_a_type_error():
    with pytest.raises(TypeError, match="plain data"):
        FunctionProxy("clip", FakeLink(lambda *a: None))(object())


def test_the_stub_source_is_self_contained_and_requests_are_base64_json():
    code = kernel_stub.install_code(100)
    compile(code, "install", "exec")
    req = kernel_stub.request_expression("call", {"name": "clip"})
    call = ast.parse(req, mode="eval").body.value.elts[0]  # [stub.call('<base64 JSON>'), stub.answer][1]
    assert call.func.attr == "call" and json.loads(base64.b64decode(call.args[0].value)) == {"name": "clip"}
    stub = types.SimpleNamespace(answer="before", call=lambda text: setattr(stub, "answer", "after"))
    assert eval(req, {"__import__": lambda name: stub}) == "after"  # the request runs, then its answer is read


def test_the_stub_puts_back_what_a_cell_replaced_before_a_call():
    import numpy

    real_allclose, real_seed = numpy.allclose, numpy.random.seed
    ns = {"np": numpy}
    kernel_stub.install(ns)
    try:
        numpy.allclose = lambda *a, **k: True
        numpy.random.seed = lambda *a, **k: None
        ns["np"] = object()
        done = kernel_stub.restore()
        assert numpy.allclose is real_allclose and numpy.random.seed is real_seed and ns["np"] is numpy
        assert set(done) >= {"numpy.allclose", "numpy.random.seed", "np"}
        assert kernel_stub.restore() == []
    finally:
        numpy.allclose, numpy.random.seed = real_allclose, real_seed


def test_capped_write_keeps_the_budget_then_one_note():
    seen = []
    write = kernel_stub.capped_write(seen.append, 10, "[cut]")
    write("12345")
    write("67890abc")
    write("more")
    assert "".join(seen) == "1234567890[cut]"
