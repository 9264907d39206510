"""JupyterHub 6 configuration for the Dinosaurus Island course (nbgrader 0.9).

One file serves a real deployment and the local launcher (``launch.py``): every
site-specific value comes from a ``DINO_HUB_*`` environment variable whose
default is the production choice. See ``docs/jupyterhub.md``.

Layout (production defaults):

- ``/srv/jupyterhub``                      hub state (sqlite db, cookie secret), root, 0700
- ``/srv/nbgrader/exchange``               nbgrader exchange root, root, 1777
- ``/home/grader-dinosaurus-island/dinosaurus-island``
                                           the course root (source/, gradebook.db,
                                           submitted/, autograded/, feedback/),
                                           owned by the grader account, 0700
- ``deploy/jupyterhub/roster.toml``        instructors and students

Who runs what:

- students: their own server (``jupyterhub-singleuser``) as their own Unix
  user via ``LocalProcessSpawner``, with the assignment-list and validate
  extensions only;
- the course's grader service, named after the course id: a shared
  ``jupyterhub-singleuser`` running as the grader account in the course root,
  with the formgrader and create-assignment extensions; members of the group
  ``formgrade-<course>`` may open it;
- ``nbgrader-<course>`` holds the students (nbgrader's ``JupyterHubAuthPlugin``
  reads it to list a student's courses, and adds students to it).
"""

import os
import sys
import tomllib
from pathlib import Path

c = get_config()  # noqa: F821  (injected by JupyterHub)

HERE = Path(__file__).resolve().parent
ENV_BIN = Path(sys.executable).parent  # the course's Python environment


def setting(name, default):
    """The value of ``DINO_HUB_<name>`` or ``default``."""
    return os.environ.get(f"DINO_HUB_{name}", default)


COURSE_ID = setting("COURSE_ID", "dinosaurus-island")
STATE_DIR = Path(setting("STATE_DIR", "/srv/jupyterhub"))
EXCHANGE_ROOT = setting("EXCHANGE_ROOT", "/srv/nbgrader/exchange")
GRADER_USER = setting("GRADER_USER", f"grader-{COURSE_ID}")
COURSE_ROOT = setting("COURSE_ROOT", f"/home/{GRADER_USER}/{COURSE_ID}")
ROSTER = Path(setting("ROSTER", HERE / "roster.toml"))
SERVICE_PORT = int(setting("SERVICE_PORT", "9999"))
AUTH = setting("AUTH", "pam")  # "pam" (Unix accounts) or "shared-password" (demo, tests)
# e.g. "https://hub.example.org" (needs a wildcard DNS record and certificate),
# "http://localhost:8000" for the local launcher; empty disables subdomains.
SUBDOMAIN_HOST = setting("SUBDOMAIN_HOST", "")

STUDENT_GROUP = f"nbgrader-{COURSE_ID}"
GRADER_GROUP = f"formgrade-{COURSE_ID}"

# --- roster ------------------------------------------------------------------
try:
    with open(ROSTER, "rb") as f:
        roster = tomllib.load(f)
except FileNotFoundError:
    sys.exit(f"jupyterhub_config: roster file {ROSTER} not found (set DINO_HUB_ROSTER)")
instructors = list(roster.get("instructors", []))
students = list(roster.get("students", []))
if not instructors:
    sys.exit(f"jupyterhub_config: {ROSTER} lists no instructors")

# --- network -----------------------------------------------------------------
c.JupyterHub.bind_url = setting("BIND_URL", "http://:8000")
c.JupyterHub.hub_bind_url = setting("HUB_BIND_URL", "http://127.0.0.1:8081")
c.ConfigurableHTTPProxy.api_url = setting("PROXY_API_URL", "http://127.0.0.1:8001")
c.ConfigurableHTTPProxy.command = [setting("PROXY_COMMAND", "configurable-http-proxy")]
if SUBDOMAIN_HOST:
    # Every user's server and every service gets its own origin
    # (student1.hub.example.org, dinosaurus-island--service.hub.example.org),
    # so a page of one cannot script another. This is what lets the grader
    # service allow frames from itself (below) without opening the hub to
    # cross-user attacks.
    c.JupyterHub.subdomain_host = SUBDOMAIN_HOST

# --- state -------------------------------------------------------------------
c.JupyterHub.db_url = f"sqlite:///{STATE_DIR / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE_DIR / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE_DIR / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops the servers it spawned

# --- authentication ----------------------------------------------------------
if AUTH == "pam":
    # Unix accounts on this machine; passwords checked by PAM.
    c.JupyterHub.authenticator_class = "pam"
elif AUTH == "shared-password":
    # Demo and tests only: everyone on the roster logs in with one password.
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = os.environ["DINO_HUB_PASSWORD"]
else:
    c.JupyterHub.authenticator_class = AUTH  # e.g. "github", "ltiauthenticator"
c.Authenticator.allowed_users = set(instructors + students)
c.Authenticator.admin_users = set(roster.get("admins", []))

# --- groups and roles (nbgrader's multiple-class layout) ---------------------
c.JupyterHub.load_groups = {
    STUDENT_GROUP: {"users": students},
    # The grader account is a hub user too (it never logs in: it is not in
    # allowed_users): nbgrader's JupyterHubAuthPlugin asks the hub for the
    # courses of the account the formgrader runs as.
    GRADER_GROUP: {"users": instructors + [GRADER_USER]},
}
c.JupyterHub.load_roles = [
    {
        # The token of every single-user server: the defaults plus reading the
        # owner's own groups, which nbgrader's JupyterHubAuthPlugin needs to
        # list the courses of the student.
        "name": "server",
        "scopes": [
            "access:servers!server",
            "users:activity!user",
            "read:users:name!user",
            "read:users:groups!user",
        ],
    },
    {
        # Instructors and TAs may open the course's grader service.
        "name": f"{GRADER_GROUP}-access",
        "groups": [GRADER_GROUP],
        "scopes": [f"access:services!service={COURSE_ID}"],
    },
    {
        # The grader service may read users and put students into the
        # course's group (what "nbgrader db student add" and the formgrader's
        # "Manage students" do through JupyterHubAuthPlugin); nothing else.
        "name": f"{COURSE_ID}-service",
        "services": [COURSE_ID],
        "scopes": [
            "list:users",
            "read:users",
            "list:groups",
            "read:groups",
            f"groups!group={STUDENT_GROUP}",
        ],
    },
]

# --- shared settings for every Jupyter server the hub starts -----------------
CONFIG_DIR = HERE / "jupyter-config"


def jupyter_env(role):
    """Environment of a Jupyter server of ``role`` ("student" or "grader").

    ``JUPYTER_CONFIG_PATH`` puts the role's config (server extensions, JupyterLab
    plugins, nbgrader settings) ahead of the environment's defaults.
    """
    return {
        "PATH": f"{ENV_BIN}:/usr/local/bin:/usr/bin:/bin",
        "JUPYTER_CONFIG_PATH": os.pathsep.join(
            [str(CONFIG_DIR / role), str(CONFIG_DIR / "common")]
        ),
        "DINO_HUB_COURSE_ID": COURSE_ID,
        "DINO_HUB_EXCHANGE_ROOT": EXCHANGE_ROOT,
        "DINO_HUB_COURSE_ROOT": COURSE_ROOT,
        "DINO_HUB_SUBDOMAIN_HOST": SUBDOMAIN_HOST,
        # No TensorFlow chatter and identical numerics on every machine.
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "TF_ENABLE_ONEDNN_OPTS": "0",
        "OMP_NUM_THREADS": setting("THREADS_PER_SERVER", "1"),
        "OPENBLAS_NUM_THREADS": setting("THREADS_PER_SERVER", "1"),
    }


# --- students' servers ---------------------------------------------------------
c.JupyterHub.spawner_class = "localprocess"  # one Unix user per hub user
c.Spawner.cmd = [str(ENV_BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.environment = jupyter_env("student")
# Instructors' own servers also get nbgrader's course list (links to the
# grader services they may open).
c.Spawner.environment["JUPYTER_CONFIG_PATH"] = lambda spawner: os.pathsep.join(
    [
        str(CONFIG_DIR / ("instructor" if spawner.user.name in instructors else "student")),
        str(CONFIG_DIR / "common"),
    ]
)
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 120
c.Spawner.mem_limit = setting("MEM_LIMIT", "2G")  # advisory for LocalProcessSpawner

# --- the course's grader service ---------------------------------------------
grader_env = jupyter_env("grader")
c.JupyterHub.services = [
    {
        "name": COURSE_ID,
        "url": f"http://127.0.0.1:{SERVICE_PORT}",
        "command": [str(ENV_BIN / "jupyterhub-singleuser"), "--ServerApp.default_url=/lab"],
        "user": GRADER_USER,
        "cwd": COURSE_ROOT,
        "environment": grader_env,
        "oauth_no_confirm": True,
        "display": True,  # listed on the instructors' hub home page
    }
]
