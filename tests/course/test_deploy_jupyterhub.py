"""The JupyterHub deployment's configuration and launcher, checked without starting a hub.

(The end-to-end test in tests/e2e/ starts one and drives it in a browser.)
"""

import importlib.util
import json
import os
import stat
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from traitlets.config.loader import PyFileConfigLoader

from coursetools import settings

DEPLOY = settings.ROOT / "deploy" / "jupyterhub"
COURSE = settings.COURSE_ID


def load_hub_config(monkeypatch, tmp_path, roster_text, **env):
    """Load jupyterhub_config.py as JupyterHub would, with DINO_HUB_* settings ``env``."""
    roster = tmp_path / "roster.toml"
    roster.write_text(roster_text)
    for key in list(os.environ):
        if key.startswith("DINO_HUB_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DINO_HUB_ROSTER", str(roster))
    for key, value in env.items():
        monkeypatch.setenv(f"DINO_HUB_{key}", value)
    return PyFileConfigLoader("jupyterhub_config.py", path=str(DEPLOY)).load_config()


def load_server_config(role, monkeypatch, **env):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return PyFileConfigLoader("jupyter_server_config.py",
                              path=str(DEPLOY / "jupyter-config" / role)).load_config()


ROSTER = 'instructors = ["prof"]\nstudents = ["ann", "bob"]\nadmins = ["prof"]\n'


def test_grader_service_groups_and_roles(monkeypatch, tmp_path):
    c = load_hub_config(monkeypatch, tmp_path, ROSTER)
    (service,) = c.JupyterHub.services
    assert service["name"] == COURSE  # nbgrader: the service is named after the course id
    assert service["user"] == f"grader-{COURSE}"
    assert service["cwd"] == f"/home/grader-{COURSE}/{COURSE}"
    assert Path(service["command"][0]).name == "jupyterhub-singleuser"
    assert str(DEPLOY / "jupyter-config" / "grader") in service["environment"]["JUPYTER_CONFIG_PATH"]

    groups = c.JupyterHub.load_groups
    assert groups[f"nbgrader-{COURSE}"]["users"] == ["ann", "bob"]
    assert set(groups[f"formgrade-{COURSE}"]["users"]) == {"prof", f"grader-{COURSE}"}
    assert c.Authenticator.allowed_users == {"prof", "ann", "bob"}  # the grader never logs in

    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    access = roles[f"formgrade-{COURSE}-access"]
    assert access["groups"] == [f"formgrade-{COURSE}"]
    assert access["scopes"] == [f"access:services!service={COURSE}"]
    service_scopes = set(roles[f"{COURSE}-service"]["scopes"])
    assert f"groups!group=nbgrader-{COURSE}" in service_scopes
    assert not any(s.startswith(("admin", "servers", "tokens", "access:")) for s in service_scopes)
    assert "read:users:groups!user" in roles["server"]["scopes"]


def test_students_get_their_own_unix_servers(monkeypatch, tmp_path):
    c = load_hub_config(monkeypatch, tmp_path, ROSTER, EXCHANGE_ROOT="/x/exchange")
    assert c.JupyterHub.spawner_class == "localprocess"
    assert Path(c.Spawner.cmd[0]).name == "jupyterhub-singleuser"
    env = c.Spawner.environment
    assert env["DINO_HUB_EXCHANGE_ROOT"] == "/x/exchange"
    path_of = env["JUPYTER_CONFIG_PATH"]
    as_user = lambda name: path_of(SimpleNamespace(user=SimpleNamespace(name=name)))  # noqa: E731
    assert as_user("ann").split(os.pathsep)[0].endswith("jupyter-config/student")
    assert as_user("prof").split(os.pathsep)[0].endswith("jupyter-config/instructor")


def test_subdomains_only_when_asked(monkeypatch, tmp_path):
    plain = load_hub_config(monkeypatch, tmp_path, ROSTER)
    assert "subdomain_host" not in plain.JupyterHub
    sub = load_hub_config(monkeypatch, tmp_path, ROSTER, SUBDOMAIN_HOST="https://hub.example.org")
    assert sub.JupyterHub.subdomain_host == "https://hub.example.org"


def test_roster_errors_are_clear(monkeypatch, tmp_path):
    with pytest.raises(SystemExit, match="lists no instructors"):
        load_hub_config(monkeypatch, tmp_path, 'students = ["ann"]\n')
    monkeypatch.setenv("DINO_HUB_ROSTER", str(tmp_path / "missing.toml"))
    with pytest.raises(SystemExit, match="roster file .* not found"):
        PyFileConfigLoader("jupyterhub_config.py", path=str(DEPLOY)).load_config()


def test_formgrader_frames_only_with_subdomains(monkeypatch):
    """nbgrader #1870: relax frame-ancestors on the grader service only, and only with subdomains."""
    monkeypatch.delenv("DINO_HUB_SUBDOMAIN_HOST", raising=False)
    assert "tornado_settings" not in load_server_config("grader", monkeypatch).ServerApp
    c = load_server_config("grader", monkeypatch, DINO_HUB_SUBDOMAIN_HOST="http://localhost:8000")
    assert c.ServerApp.tornado_settings["headers"]["Content-Security-Policy"] == "frame-ancestors 'self'"
    student = load_server_config("student", monkeypatch, DINO_HUB_SUBDOMAIN_HOST="http://localhost:8000")
    assert "tornado_settings" not in student.ServerApp  # students keep JupyterHub's 'none'


@pytest.mark.parametrize("role, on, off", [
    ("student", {"assignment_list", "validate_assignment"}, {"formgrader", "course_list"}),
    ("instructor", {"assignment_list", "course_list", "validate_assignment"}, {"formgrader"}),
    ("grader", {"formgrader", "validate_assignment"}, {"assignment_list", "course_list"}),
])
def test_extensions_per_role(monkeypatch, role, on, off):
    ext = load_server_config(role, monkeypatch).ServerApp.jpserver_extensions
    assert {k.rsplit(".", 1)[1] for k, v in ext.items() if v} == on
    assert {k.rsplit(".", 1)[1] for k, v in ext.items() if not v} == off
    lab = json.loads((DEPLOY / "jupyter-config" / role / "labconfig" / "page_config.json").read_text())
    disabled = {k.split(":")[1] for k, v in lab["disabledExtensions"].items() if v and "nbgrader" in k}
    if role == "student":
        assert disabled == {"formgrader", "course-list", "create-assignment"}
    if role == "grader":
        assert disabled == {"assignment-list", "course-list"}


def test_nbgrader_settings_for_the_hub(monkeypatch):
    monkeypatch.setenv("DINO_HUB_EXCHANGE_ROOT", "/srv/x")
    common = PyFileConfigLoader("nbgrader_config.py", path=str(DEPLOY / "jupyter-config" / "common")).load_config()
    assert common.Exchange.root == "/srv/x"
    assert common.Exchange.path_includes_course is True
    assert common.Authenticator.plugin_class.__name__ == "JupyterHubAuthPlugin"
    assert common.Execute.timeout == settings.CELL_TIMEOUT_S  # Validate on the hub: the course's cell timeout
    from nbgrader.validator import Validator

    from coursetools.plugins import validate
    assert Validator.validate is validate.validate  # the Validate button: the whole message first
    monkeypatch.setenv("DINO_HUB_COURSE_ROOT", "/home/g/course")
    grader = PyFileConfigLoader("nbgrader_config.py", path=str(DEPLOY / "jupyter-config" / "grader")).load_config()
    assert grader.CourseDirectory.root == "/home/g/course"
    assert grader.CourseDirectory.course_id == COURSE


# --- the launcher ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def launch():
    spec = importlib.util.spec_from_file_location("dino_hub_launch_unit", DEPLOY / "launch.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_grant_traverse_adds_only_pass_through(launch, tmp_path):
    locked = tmp_path / "locked"
    inner = locked / "inner"
    inner.mkdir(parents=True)
    os.chmod(locked, 0o700)
    target = inner / "python"
    target.write_text("")
    changed = launch.grant_traverse(target)
    assert str(locked) in changed
    mode = stat.S_IMODE(locked.stat().st_mode)
    assert mode == 0o701  # others may pass through, not list
    assert launch.grant_traverse(target) == []  # idempotent


def test_launcher_errors_are_clear(launch, tmp_path, capsys):
    with pytest.raises(launch.LaunchError, match="no hub was started"):
        launch.load(tmp_path)
    assert launch.main(["down", "--state-dir", str(tmp_path)]) == 1
    assert "no hub was started" in capsys.readouterr().err
    with pytest.raises(launch.LaunchError, match="unknown assignment"):
        launch.available_assignments(["no_such_assignment"])
    assert all(isinstance(m, str) for m in launch.check_prerequisites())


def test_ports(launch):
    import socket
    port = launch.free_port()
    assert launch.port_is_free(port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        assert not launch.port_is_free(port)


def test_jupyterlab_defaults_render_the_whole_notebook_and_fetch_no_news():
    """Table-of-contents links land on their headings (no windowing); no news from the network."""
    common = DEPLOY / "jupyter-config" / "common"
    config = PyFileConfigLoader("jupyter_server_config.py", path=str(common)).load_config()
    settings_dir = Path(config.LabApp.app_settings_dir)
    overrides = json.loads((settings_dir / "overrides.json").read_text())
    assert overrides["@jupyterlab/notebook-extension:tracker"]["windowingMode"] == "none"
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    from jupyterlab_server.settings_utils import _get_overrides

    assert _get_overrides(str(settings_dir)) == (overrides, "")  # what jupyterlab_server itself reads
