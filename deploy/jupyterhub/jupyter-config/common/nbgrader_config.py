"""nbgrader settings shared by every server the hub starts (students, instructors, grader).

Values come from the environment that ``jupyterhub_config.py`` gives the server.
"""

import os

from nbgrader.auth import JupyterHubAuthPlugin

from coursetools import settings

c = get_config()  # noqa: F821

# One exchange for the whole hub; each course has its own folder in it.
c.Exchange.root = os.environ.get("DINO_HUB_EXCHANGE_ROOT", "/srv/nbgrader/exchange")
c.Exchange.path_includes_course = True
# A student sees the courses whose group "nbgrader-<course>" holds them.
c.Authenticator.plugin_class = JupyterHubAuthPlugin

# Validate (the toolbar button, `nbgrader validate`) runs the whole notebook: a cell may take as long as it may
# under grading. nbgrader's own default is 30 s: the optional notebooks' training cells printed
# "Timeout waiting for execute reply (30s). Interrupting kernel" and then "Success!".
c.Execute.timeout = settings.CELL_TIMEOUT_S
