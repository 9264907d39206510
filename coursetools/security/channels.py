"""What a grading kernel may send the grader: messages of bounded size, refused before they are decoded.

The grader talks to the kernel over ZeroMQ. Without a bound, one message from
a hostile kernel (a reply, a display) is received and decoded whole into the
grader's memory before any check of the course runs. :class:`BoundedKernelClient`
(the grading kernel manager's client: :class:`coursetools.plugins.execute.CappedKernelManager`)
sets ZeroMQ's ``MAXMSGSIZE`` on every socket it opens to the kernel: a message
part larger than the channel's bound (:func:`channel_limits`) is dropped by
ZeroMQ's own receiver, which also disconnects the peer that sent it, so it never
reaches Python. The grader then sees a kernel that did not answer: the call or
the cell times out, and the report says so.

The bounds follow the course's own caps, as configured in its
``nbgrader_config.py`` (``c.GradingExecute.max_output_bytes`` and
``c.GradingExecute.call_max_bytes``, or their defaults in :mod:`coursetools.settings`):
output on iopub is capped per cell at ``max_output_bytes`` anyway (so no display
message needs more than that, plus room for its metadata; ``-1``, no output
cap, leaves iopub unbounded too); a reply on shell carries at most one call's payload
(``call_max_bytes`` of JSON, base64-encoded). stdin and control carry small
messages only. And at most :data:`IOPUB_QUEUE` iopub messages wait in the
grader unread (ZeroMQ's receive high-water mark; the kernel's publisher drops
what does not fit): a kernel that displays faster than nbclient reads cannot
pile its displays up in the grader either.
"""

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.connect import channel_socket_types

from .. import settings

MiB = 1024**2
ENVELOPE_BYTES = 1 * MiB  # header, metadata and JSON around the data of one message part
IOPUB_QUEUE = 64  # iopub messages received but not yet read; past it the kernel's publisher drops them


def channel_limits(max_output_bytes=settings.MAX_OUTPUT_BYTES, max_payload_bytes=settings.PROXY_MAX_PAYLOAD_BYTES):
    """``{channel: largest message part in bytes}`` that the grader accepts from a kernel."""
    reply = max_payload_bytes * 4 // 3 + 4  # a call's answer travels as base64 text
    return {
        "iopub": max_output_bytes + ENVELOPE_BYTES if max_output_bytes >= 0 else -1,
        "shell": reply + ENVELOPE_BYTES,
        "control": ENVELOPE_BYTES,
        "stdin": ENVELOPE_BYTES,
        "hb": ENVELOPE_BYTES,
    }


class BoundedKernelClient(AsyncKernelClient):
    """nbclient's asynchronous kernel client, whose sockets refuse oversized messages (see the module)."""

    limits = None  # {channel: bytes}; None: from the course's config (:meth:`channel_bounds`)

    def channel_bounds(self):
        """The bounds of :attr:`limits`, or those of the course's configured caps (the kernel manager's config)."""
        if self.limits is not None:
            return self.limits
        configured = self.config.get("GradingExecute", {})
        return channel_limits(max_output_bytes=int(configured.get("max_output_bytes", settings.MAX_OUTPUT_BYTES)),
                              max_payload_bytes=int(configured.get("call_max_bytes", settings.PROXY_MAX_PAYLOAD_BYTES)))

    def _create_connected_socket(self, channel, identity=None):
        # jupyter_client's own socket (connect.py, _create_connected_socket), with the bound set before it
        # connects: ZeroMQ reads MAXMSGSIZE when a connection is made, so setting it afterwards would race.
        url = self._make_url(channel)
        sock = self.context.socket(channel_socket_types[channel])
        sock.linger = 1000
        sock.setsockopt(zmq.MAXMSGSIZE, self.channel_bounds()[channel])
        if channel == "iopub":  # messages the grader has not read yet: at most this many wait in its memory
            sock.setsockopt(zmq.RCVHWM, IOPUB_QUEUE)
        if identity:
            sock.identity = identity
        if getattr(self, "curve_publickey", None) is not None:
            sock.curve_secretkey = self.curve_secretkey
            sock.curve_publickey = self.curve_publickey
            sock.curve_serverkey = self.curve_publickey
        sock.connect(url)
        return sock
