"""The grader's side of a call into the grading kernel: proxies for the student's functions.

A graded test runs in the grader (:mod:`coursetools.security.trusted_tests`);
where it calls ``clip(gradients, 10)``, ``clip`` is a :class:`FunctionProxy`.
The call

1. encodes the arguments and numpy's global random state as plain data
   (:mod:`coursetools.kernel.plaindata`; anything else is the *test's* error,
   a ``TypeError``);
2. sends them to the kernel as one silent execution (not stored in ``In``),
   which runs the student's function there (:mod:`coursetools.kernel.stub`);
3. decodes the answer **strictly**, in the grader: the return value; every
   argument after the call (in-place changes land in the caller's own arrays,
   dicts and lists; a replaced dict entry replaces it); what the function
   printed (written to the grader's ``sys.stdout``/``sys.stderr``, so
   ``redirect_stdout`` in a test works); numpy's random state after the call.
   An answer that is not exactly plain data is a wrong answer
   (``AssertionError`` with the reason). An exception in the student's
   function is raised again in the test as the same built-in exception type
   (``NotImplementedError``, ``MemoryError``, ``ValueError``...; others as
   :class:`StudentError`), carrying the kernel's traceback of the student's code.

A call has a deadline (the test cell's time limit, shared by all its calls).
Past it the kernel is interrupted and :class:`CallTimeout` is raised; a kernel
that dies (or does not come back from the interrupt) raises
:class:`KernelStopped`. Both derive from ``BaseException``, so that no
``except Exception`` in a test swallows them; every later call of that cell
fails the same way.
"""

import asyncio
import base64
import binascii
import builtins
import re
import secrets
import sys
import time
from queue import Empty

import numpy as np

from ..kernel import plaindata
from ..kernel import stub as kernel_stub
from ..kernel.plaindata import NotPlainData

GRACE_S = 5.0  # how long an interrupted call may take to come back before the kernel counts as hung
POLL_S = 0.5  # how often a waiting call checks that the kernel is alive
DRAIN_POLL_S = 0.02  # how often it empties iopub while the kernel is sending there
DRAIN_BATCH = 256  # iopub messages read and dropped at a time
IDLE_S = 2.0  # after a reply, how long iopub is drained waiting for the request's "idle"
_BASE64 = re.compile(r"^'[A-Za-z0-9+/=]*'$")


class CallTimeout(BaseException):
    """A call did not return before the cell's deadline."""


class KernelStopped(BaseException):
    """The kernel died (or hung past an interrupt) during a call, or was already gone."""


class StudentError(Exception):
    """An exception of the student's code that has no built-in counterpart (its type name is in the message)."""


class KernelLink:
    """Requests to one grading kernel, from the grader's test thread, on the notebook's event loop.

    ``client``/``manager`` are nbclient's kernel client and manager. The link
    is used by one thread at a time (the cell's test); ``deadline`` (a
    ``time.monotonic()`` value) is set by the runner before each cell.
    """

    def __init__(self, client, manager, loop, log=None, max_bytes=plaindata.DEFAULT_MAX_BYTES,
                 max_output_chars=1024**2):
        self.kc, self.km, self.loop, self.log = client, manager, loop, log
        self.max_bytes, self.max_output_chars = max_bytes, max_output_chars
        self.deadline = None
        self.stopped = None  # why the kernel is unusable (a sentence), or None
        self.timed_out = None  # what timed out in this cell, or None
        self.restored = []  # what the kernel's restore courtesy reported during this cell

    def start_cell(self, timeout_s):
        self.deadline = None if not timeout_s else time.monotonic() + timeout_s
        self.timed_out = None
        self.restored = []

    # -- the event-loop side --------------------------------------------------------------

    async def _alive(self):
        result = self.km.is_alive()
        if asyncio.iscoroutine(result):
            result = await result
        return bool(result)

    @staticmethod
    async def _next(channel, timeout):
        """The next message of ``channel`` within ``timeout`` seconds (``queue.Empty`` when none came)."""
        msg = channel.get_msg(timeout=timeout)
        return await msg if asyncio.iscoroutine(msg) else msg

    async def _drain_iopub(self):
        """Read and drop what the kernel has sent on iopub; return how many messages. Nothing there is
        graded during a call (a call's prints come back in its answer), and unread it would pile up in
        the grader: a function that displays in a loop would grow the grader, not the kernel."""
        for count in range(DRAIN_BATCH):
            try:
                await self._next(self.kc.iopub_channel, 0)
            except Empty:
                return count
        return DRAIN_BATCH

    async def _drain_until_idle(self, msg_id, timeout=IDLE_S):
        """After a reply, read and drop iopub until the kernel says the request is done (``idle``): its
        displays are still on their way when the reply arrives, and must not wait in the grader."""
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            try:
                msg = await self._next(self.kc.iopub_channel, left)
            except Empty:
                return
            if (msg.get("msg_type") == "status" and msg.get("parent_header", {}).get("msg_id") == msg_id
                    and msg.get("content", {}).get("execution_state") == "idle"):
                return

    async def _wait(self, msg_id, timeout):
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            poll = DRAIN_POLL_S if await self._drain_iopub() else POLL_S
            left = poll if end is None else min(poll, end - time.monotonic())
            if left <= 0:
                return None
            try:
                msg = await self._next(self.kc.shell_channel, left)
            except Empty:
                if not await self._alive():
                    raise KernelStopped("the kernel died") from None
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return msg

    async def roundtrip(self, code, timeout, what, expression=kernel_stub.ANSWER_EXPR):
        """Run ``code`` silently, then evaluate ``expression``; return its text (the kernel's answer).

        A request is an ``expression`` with no code (:func:`kernel_stub.request_expression`).
        Raises CallTimeout / KernelStopped.
        """
        if self.stopped:
            raise KernelStopped(self.stopped)
        msg_id = self.kc.execute(code, silent=True, store_history=False, allow_stdin=False, stop_on_error=False,
                                 user_expressions={"a": expression})
        try:
            reply = await self._wait(msg_id, timeout)
            if reply is None:
                self.timed_out = what
                if self.log:
                    self.log.warning("grading: %s ran past its time limit; interrupting the kernel", what)
                result = self.km.interrupt_kernel()
                if asyncio.iscoroutine(result):
                    await result
                if await self._wait(msg_id, GRACE_S) is None:
                    self.stopped = f"the kernel did not come back from an interrupt after {what} ran past its time limit"
                raise CallTimeout(f"{what} did not return within the cell's time limit; the grader interrupted it")
            await self._drain_until_idle(msg_id)
        except KernelStopped:
            self.stopped = self.stopped or f"the kernel stopped while running {what} (a crash, os._exit, or the memory cap)"
            raise KernelStopped(self.stopped) from None
        return _answer_text(reply)

    async def ask(self, op, payload, timeout, what):
        """Send one request (``call``, ``push`` or ``fetch``: :func:`kernel_stub.request_expression`);
        return the decoded JSON answer, a dict.

        The request carries a fresh nonce that the answer must echo. Raises
        CallTimeout / KernelStopped, or NotPlainData for an answer that is
        malformed, missing or another request's.
        """
        nonce = secrets.token_hex(8)
        expression = kernel_stub.request_expression(op, dict(payload, nonce=nonce))
        answer = plaindata.loads(await self.roundtrip("", timeout, what, expression), self.max_bytes)
        if type(answer) is not dict or answer.get("nonce") != nonce:
            raise NotPlainData("the kernel did not answer this request (its answer is missing or belongs to another one)")
        return answer

    # -- the test-thread side -------------------------------------------------------------

    def request(self, op, payload, what):
        """Send one request from the test thread, within the cell's deadline; return :meth:`ask`'s answer."""
        if self.stopped:
            raise KernelStopped(self.stopped)
        timeout = None
        if self.deadline is not None:
            timeout = self.deadline - time.monotonic()
            if timeout <= 0 or self.timed_out:
                raise CallTimeout(f"{what} was not run: the cell's time limit is used up")
        return asyncio.run_coroutine_threadsafe(self.ask(op, payload, timeout, what), self.loop).result()


def _answer_text(reply):
    """The base64 JSON that ``user_expressions`` carried back, decoded to text (NotPlainData if malformed)."""
    try:
        expr = reply["content"]["user_expressions"]["a"]
        text = expr["data"]["text/plain"] if expr.get("status") == "ok" else None
    except (KeyError, TypeError, AttributeError):
        text = None
    if type(text) is not str or not _BASE64.match(text):
        return "null"
    try:
        return base64.b64decode(text[1:-1], validate=True).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return "null"


def _strict_str(answer, key):
    value = answer.get(key, "")
    if type(value) is not str:
        raise NotPlainData(f"'{key}' is not text")
    return value


def student_exception(name, error):
    """The exception to raise in the test for the student's ``error`` (a dict from the kernel)."""
    if type(error) is not dict:
        return AssertionError(f"{name} gave a malformed answer")
    etype, message, tb = (error.get(k, "") for k in ("type", "message", "traceback"))
    if not all(type(x) is str for x in (etype, message, tb)):
        return AssertionError(f"{name} gave a malformed answer")
    if etype == "NotPlainData":
        exc = AssertionError(f"{name} returned something that is not plain data: {message}")
    else:
        cls = getattr(builtins, etype, None)
        exc = None
        if isinstance(cls, type) and issubclass(cls, Exception) and cls.__module__ == "builtins":
            try:
                exc = cls(message)
            except Exception:  # a built-in type that needs other arguments
                exc = None
        if exc is None:
            exc = StudentError(f"{etype}: {message}" if message else etype)
            message = str(exc)
    exc.kernel_message = message
    exc.kernel_traceback = tb
    return exc


class FunctionProxy:
    """Stands for the student's function ``name`` in the grader's namespace; calls it in the kernel."""

    def __init__(self, name, link):
        self.__name__ = self.__qualname__ = name
        self._link = link

    def __repr__(self):
        return f"<the student's function {self.__name__}, run in the grading kernel>"

    def __call__(self, *args, **kwargs):
        return self._call(args, kwargs)

    def call_with_stand_ins(self, stand_ins, *args, **kwargs):
        """Call the student's function while names it uses stand for ``stand_ins`` (:mod:`utils.stand_ins`).

        Each stand-in is made in the kernel from its class name and
        ``init_kwargs()``; what it recorded there (its ``calls``, plain data)
        is set on the grader's stand-in afterwards. Like every answer of the
        kernel, the records are only what the kernel says: a test compares
        them with the reference's records on this submission's own instance.
        """
        specs = {}
        for name, obj in stand_ins.items():
            try:
                specs[name] = {"class": type(obj).__name__, "kwargs": plaindata.encode(obj.init_kwargs())}
            except (AttributeError, NotPlainData) as exc:
                raise TypeError(f"{name!r}: not a stand-in of utils.stand_ins ({exc})") from None
        return self._call(args, kwargs, stand_ins, specs)

    def _call(self, args, kwargs, stand_ins=None, specs=None):
        name, link = self.__name__, self._link
        what = f"{name}(...)"
        encoder = plaindata.Encoder(max_bytes=link.max_bytes)
        try:
            args_node = encoder.encode((list(args), dict(kwargs)), path=f"the arguments of {name}")
        except NotPlainData as exc:
            raise TypeError(f"{exc}: a test can only pass plain data (numbers, strings, numpy arrays, "
                            "lists, tuples, dicts) to the student's functions") from None
        payload = {"name": name, "args": args_node, "random_state": plaindata.encode(plaindata.random_state()),
                   "max_output": link.max_output_chars, "max_bytes": link.max_bytes}
        if specs:
            payload["stand_ins"] = specs
        try:
            answer = link.request("call", payload, what)
            result = self._unpack(answer, encoder)
            if stand_ins:
                self._records(answer, stand_ins)
            return result
        except NotPlainData as exc:
            raise AssertionError(f"{name} gave an answer the grader does not accept: {exc}") from None

    def _records(self, answer, stand_ins):
        """Give each stand-in the calls the kernel recorded (a list of plain data per stand-in)."""
        records = plaindata.decode(answer.get("records"), self._link.max_bytes)
        if type(records) is not dict or set(records) != set(stand_ins):
            raise NotPlainData("the stand-ins' records are missing")
        for name, obj in stand_ins.items():
            if type(records[name]) is not list:
                raise NotPlainData(f"the records of {name} are not a list")
            obj.calls = records[name]

    def _unpack(self, answer, encoder):
        name, link = self.__name__, self._link
        if "value" not in answer and "error" not in answer:
            raise NotPlainData("no return value and no error")
        for key, stream in (("stdout", sys.stdout), ("stderr", sys.stderr)):
            text = _strict_str(answer, key)
            if text:
                stream.write(text)
        restored = answer.get("restored", [])
        if type(restored) is list and all(type(r) is str for r in restored):
            link.restored.extend(r[:100] for r in restored[:200])
        if "random_state" in answer:
            state = plaindata.check_random_state(plaindata.decode(answer["random_state"], link.max_bytes))
            np.random.set_state(state)
        error = answer.get("error")
        result = None
        if "value" in answer:
            try:
                value = plaindata.Decoder(originals=encoder.objects, max_bytes=link.max_bytes).decode(answer["value"])
            except NotPlainData:
                if error is not None:
                    raise student_exception(name, error) from None
                raise
            if type(value) is not tuple or len(value) != 3:
                raise NotPlainData("the answer has the wrong shape")
            result = value[2]
        if error is not None:
            raise student_exception(name, error)
        return result
