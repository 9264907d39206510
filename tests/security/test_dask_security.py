"""grade-parallel's Dask cluster: only holders of its certificates may connect (mutual TLS)."""

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from coursetools.grading.dask_security import InsecureScheduler, TLSFiles, external_security
from coursetools.settings import ROOT

DOCS = ROOT / "docs" / "parallel_grading.md"


def test_a_plain_tcp_scheduler_is_refused_with_how_to_make_certificates():
    with pytest.raises(InsecureScheduler) as err:
        external_security("tcp://10.0.0.5:8786", TLSFiles("ca.pem", "client.pem", "client-key.pem"))
    msg = str(err.value)
    assert "not a tls:// address" in msg and "docs/parallel_grading.md" in msg and "--tls-cert" in msg
    with pytest.raises(InsecureScheduler, match="not a tls:// address"):
        external_security("10.0.0.5:8786", None)  # no scheme means tcp to Dask


def test_a_tls_scheduler_needs_the_clients_certificate_files(tmp_path):
    with pytest.raises(InsecureScheduler, match="needs the client's certificates"):
        external_security("tls://10.0.0.5:8786", None)
    with pytest.raises(InsecureScheduler, match="--tls-key .*no such file"):
        (tmp_path / "ca.pem").write_text("x")
        (tmp_path / "c.pem").write_text("x")
        external_security("tls://10.0.0.5:8786", TLSFiles(str(tmp_path / "ca.pem"), str(tmp_path / "c.pem"),
                                                          str(tmp_path / "missing.pem")))


def test_grade_parallel_refuses_tcp_before_doing_anything(tmp_path, capsys):
    from coursetools.cli import main

    assert main(["grade-parallel", "--course", str(tmp_path), "--scheduler", "tcp://127.0.0.1:1"]) != 0
    err = capsys.readouterr().err
    assert "refusing the Dask scheduler tcp://127.0.0.1:1" in err and "Traceback" not in err


def _cannot_connect(address, **kwargs):
    from distributed import Client

    try:
        Client(address, timeout="3s", **kwargs).close()
    except (OSError, TimeoutError, ValueError, TypeError):
        return True
    return False


@pytest.mark.slow
def test_the_local_cluster_refuses_clients_without_its_credentials():
    from distributed.security import Security

    from coursetools.grading import parallel

    client, cluster = parallel._client(None, 1, parallel.cluster_security(None))
    try:
        address = cluster.scheduler_address
        assert address.startswith("tls://")
        assert client.submit(lambda: 6 * 7).result(timeout=60) == 42
        assert _cannot_connect(address.replace("tls://", "tcp://"))  # a plain client, no credentials
        assert _cannot_connect(address, security=Security.temporary())  # TLS, but another authority
    finally:
        client.close()
        cluster.close()


def _docs_block(heading):
    """The first ```bash block after ``heading`` in docs/parallel_grading.md."""
    text = DOCS.read_text()
    start = text.index(heading)
    return re.search(r"```bash\n(.*?)```", text[start:], re.S).group(1)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_the_documented_certificates_and_external_cluster_work_as_written(tmp_path):
    """Make the certificates with the docs' commands, start scheduler and worker as documented, grade-parallel's
    client connects; a client without the certificates does not; the worker imports the installed coursetools."""
    from distributed.security import Security

    from coursetools.grading import parallel
    from coursetools.grading.dask_security import external_security

    subprocess.run(["bash", "-euo", "pipefail", "-c", _docs_block("### Certificates")], cwd=tmp_path, check=True,
                   capture_output=True)
    tls = tmp_path / ".dask-tls" if (tmp_path / ".dask-tls").is_dir() else tmp_path
    for name in ("ca.pem", "scheduler.pem", "scheduler-key.pem", "worker.pem", "worker-key.pem", "client.pem",
                 "client-key.pem"):
        assert (tls / name).is_file(), name
    port = _free_port()
    bindir = Path(sys.executable).parent
    common = ["--tls-ca-file", str(tls / "ca.pem")]
    scheduler = subprocess.Popen([bindir / "dask", "scheduler", "--protocol", "tls", "--host", "127.0.0.1",
                                  "--port", str(port), "--no-dashboard", *common, "--tls-cert",
                                  str(tls / "scheduler.pem"), "--tls-key", str(tls / "scheduler-key.pem")],
                                 cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"tls://127.0.0.1:{port}"
    worker = subprocess.Popen([bindir / "dask", "worker", address, "--nworkers", "1", "--nthreads", "1",
                               "--no-dashboard", *common, "--tls-cert", str(tls / "worker.pem"), "--tls-key",
                               str(tls / "worker-key.pem")], cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        files = TLSFiles(str(tls / "ca.pem"), str(tls / "client.pem"), str(tls / "client-key.pem"))
        client, _ = parallel._client(address, None, parallel.cluster_security(address, files))
        try:
            client.wait_for_workers(1, timeout=120)
            where = client.submit(lambda: __import__("coursetools").__file__, pure=False).result(timeout=60)
            assert Path(where).resolve().is_relative_to(ROOT.resolve())
        finally:
            client.close()
        assert _cannot_connect(address.replace("tls://", "tcp://"))
        assert _cannot_connect(address, security=Security.temporary())
        assert external_security(address, files).require_encryption
    finally:
        for proc in (worker, scheduler):
            proc.terminate()
        for proc in (worker, scheduler):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
