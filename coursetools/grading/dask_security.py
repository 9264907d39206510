"""Who may talk to the Dask cluster that grades a class: only holders of its certificates.

A Dask scheduler runs whatever functions its clients submit, on every worker.
An unauthenticated one (``tcp://``) is an open door: any code that reaches its
port, a student's kernel on the same machine included, could run code as the
grader. So ``grade-parallel``

* gives its **local cluster** temporary credentials (:meth:`Security.temporary`:
  a fresh certificate authority and key, held in memory, for this one batch),
  so only this process and the workers it started can connect (mutual TLS);
* accepts an **external scheduler** only at a ``tls://`` address and with a
  client certificate signed by the cluster's authority, the authority's
  certificate and the key (``--tls-ca-file``, ``--tls-cert``, ``--tls-key``);
  the scheduler must in turn demand certificates from its clients (``dask
  scheduler --tls-ca-file ... --tls-cert ... --tls-key ...`` does).
  ``docs/parallel_grading.md`` shows how to make the certificates.
"""

from dataclasses import dataclass
from pathlib import Path

HOW_TO = ("make a certificate authority and certificates (docs/parallel_grading.md, \"Certificates\"), "
          "start the scheduler and workers with --tls-ca-file/--tls-cert/--tls-key, and pass "
          "--scheduler tls://HOST:PORT --tls-ca-file ca.pem --tls-cert client.pem --tls-key client-key.pem")


class InsecureScheduler(ValueError):
    """An external scheduler without TLS and client certificates; the message says how to make them."""


@dataclass(frozen=True)
class TLSFiles:
    """The client's side of a cluster's mutual TLS: the authority, the client certificate and its key."""

    ca_file: str
    cert: str
    key: str


def local_security():
    """Temporary credentials for a :class:`~distributed.LocalCluster` and its client (mutual TLS)."""
    from distributed.security import Security

    return Security.temporary()


def external_security(address, tls):
    """The :class:`~distributed.Security` to reach the scheduler at ``address``, or :class:`InsecureScheduler`."""
    from distributed.security import Security

    scheme = address.split("://", 1)[0] if "://" in address else "tcp"
    if scheme != "tls":
        raise InsecureScheduler(
            f"refusing the Dask scheduler {address}: it is not a tls:// address, so anyone who reaches its port "
            f"(a student's kernel included) could run code on the workers. To use an external cluster, {HOW_TO}")
    if tls is None or not all((tls.ca_file, tls.cert, tls.key)):
        raise InsecureScheduler(f"the scheduler {address} needs the client's certificates: {HOW_TO}")
    for what, path in (("--tls-ca-file", tls.ca_file), ("--tls-cert", tls.cert), ("--tls-key", tls.key)):
        if not Path(path).is_file():
            raise InsecureScheduler(f"{what} {path}: no such file; {HOW_TO}")
    return Security(tls_ca_file=tls.ca_file, tls_client_cert=tls.cert, tls_client_key=tls.key,
                    require_encryption=True)


def add_tls_arguments(parser):
    """The ``--tls-*`` options of ``grade-parallel``."""
    parser.add_argument("--tls-ca-file", help="external scheduler: the certificate of the cluster's authority (PEM)")
    parser.add_argument("--tls-cert", help="external scheduler: this client's certificate, signed by that authority (PEM)")
    parser.add_argument("--tls-key", help="external scheduler: this client's private key (PEM)")


def tls_from_args(args):
    """:class:`TLSFiles` from parsed ``--tls-*`` options, or None when none was given."""
    files = (getattr(args, "tls_ca_file", None), getattr(args, "tls_cert", None), getattr(args, "tls_key", None))
    return TLSFiles(*files) if any(files) else None
