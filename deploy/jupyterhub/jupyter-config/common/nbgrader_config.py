"""nbgrader settings shared by every server the hub starts (students, instructors, grader).

Values come from the environment that ``jupyterhub_config.py`` gives the server.
"""

import os

from nbgrader.auth import JupyterHubAuthPlugin

from coursetools import settings
from coursetools.plugins import validate

# The Validate button and `nbgrader validate` show each failing test's whole message first
# (coursetools/plugins/validate.py: nbgrader's Validator cuts lines at 90 characters and shows the cell first),
# and do not run a notebook that has nothing to check (the optional ones: minutes of training, then "Success!").
validate.install()

c = get_config()  # noqa: F821

# One exchange for the whole hub; each course has its own folder in it.
c.Exchange.root = os.environ.get("DINO_HUB_EXCHANGE_ROOT", "/srv/nbgrader/exchange")
c.Exchange.path_includes_course = True
# A student sees the courses whose group "nbgrader-<course>" holds them.
c.Authenticator.plugin_class = JupyterHubAuthPlugin

# Validate (the toolbar button, `nbgrader validate`) runs the whole notebook: a cell may take as long as it may
# under grading. nbgrader's own default is 30 s: the optional notebooks' training cells printed
# "Timeout waiting for execute reply (30s). Interrupting kernel" and then "Success!" (they are no longer run).
# tests/e2e checks that a student's server loads this value for Validate.
c.Execute.timeout = settings.CELL_TIMEOUT_S
