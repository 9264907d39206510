"""A kernel cannot flood the grader: oversized messages are refused before they are decoded, and what a
function displays during a call is drained, not queued (coursetools/security/channels.py, proxy.py)."""

import asyncio
import io
from contextlib import redirect_stdout

import pytest
import zmq

from coursetools import settings
from coursetools.security.channels import BoundedKernelClient, channel_limits
from coursetools.security.proxy import DRAIN_BATCH, CallTimeout, FunctionProxy, KernelLink


def test_every_channel_has_a_bound_that_fits_the_courses_own_caps():
    limits = channel_limits()
    assert set(limits) == {"shell", "iopub", "stdin", "control", "hb"}
    assert limits["iopub"] >= settings.MAX_OUTPUT_BYTES  # an output the per-cell cap keeps is never refused
    assert limits["shell"] >= settings.PROXY_MAX_PAYLOAD_BYTES * 4 // 3  # nor the largest answer of a call
    assert max(limits["stdin"], limits["control"], limits["hb"]) <= 2 * 1024**2


class SmallBounds(BoundedKernelClient):
    limits = channel_limits(max_output_bytes=256 * 1024, max_payload_bytes=1024**2)


def test_the_bounds_follow_the_course_s_configured_caps():
    from traitlets.config import Config

    c = Config()
    c.GradingExecute.max_output_bytes = 256 * 1024
    c.GradingExecute.call_max_bytes = 3 * 1024**2
    assert BoundedKernelClient(config=c).channel_bounds() == channel_limits(256 * 1024, 3 * 1024**2)
    assert BoundedKernelClient().channel_bounds() == channel_limits()  # the course's defaults
    c.GradingExecute.max_output_bytes = -1  # no output cap: iopub is not bounded either
    assert BoundedKernelClient(config=c).channel_bounds()["iopub"] == -1
    assert SmallBounds().channel_bounds() == SmallBounds.limits


FUNCTIONS = '''
import sys
from IPython.display import HTML, display

def shout(n):
    for _ in range(n):
        display(HTML("x" * 50_000))
    return n

def huge():
    grading = sys.modules["_course_grading"]
    grading._answer = lambda obj, req=None: setattr(grading, "answer", "A" * (8 * 2**20))
    return 1
'''


@pytest.mark.slow
def test_a_real_kernel_cannot_queue_displays_or_send_an_oversized_answer():
    from jupyter_client.manager import AsyncKernelManager

    from coursetools.kernel import stub as kernel_stub

    async def main():
        km = AsyncKernelManager(kernel_name="python3")
        km.client_factory = SmallBounds
        await km.start_kernel()
        kc = km.client()
        assert isinstance(kc, SmallBounds)
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            assert kc.shell_channel.socket.getsockopt(zmq.MAXMSGSIZE) == SmallBounds.limits["shell"]
            assert kc.iopub_channel.socket.getsockopt(zmq.MAXMSGSIZE) == SmallBounds.limits["iopub"]
            loop = asyncio.get_running_loop()
            link = KernelLink(kc, km, loop, max_output_chars=1000)
            await link.roundtrip(kernel_stub.install_code(0), 60, "install")
            assert await link._wait(kc.execute(FUNCTIONS), 60) is not None
            await link._drain_iopub()
            link.start_cell(60)
            with redirect_stdout(io.StringIO()):
                assert await loop.run_in_executor(None, FunctionProxy("shout", link), 2000) == 2000
            # what it displayed was read and dropped during the call: the grader holds (almost) none of it
            assert await link._drain_iopub() < DRAIN_BATCH
            link.start_cell(3)
            with pytest.raises(CallTimeout):  # an 8 MiB answer never reaches Python: the call gets no answer
                await loop.run_in_executor(None, FunctionProxy("huge", link))
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)

    asyncio.run(main())
