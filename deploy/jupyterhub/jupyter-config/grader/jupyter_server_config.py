"""Jupyter Server settings of the course's grader service.

Extensions: formgrader (and the create-assignment toolbar in JupyterLab) on,
the students' assignment list off.

The formgrader fix for JupyterHub >= 4.1 (nbgrader issue #1870): JupyterHub
sends ``Content-Security-Policy: frame-ancestors 'none'``, which blanks the
formgrader that JupyterLab shows in an iframe. When the hub runs with
subdomains (``DINO_HUB_SUBDOMAIN_HOST``), this service has an origin of its
own, so ``frame-ancestors 'self'`` lets only this service's own JupyterLab
frame the formgrader, and no student's page can. Without subdomains we keep
JupyterHub's ``'none'``: open the formgrader in its own tab at
``/services/<course>/formgrader`` instead.
"""

import os

c = get_config()  # noqa: F821

c.ServerApp.jpserver_extensions = {
    "nbgrader.server_extensions.formgrader": True,
    "nbgrader.server_extensions.validate_assignment": True,
    "nbgrader.server_extensions.assignment_list": False,
    "nbgrader.server_extensions.course_list": False,
}

if os.environ.get("DINO_HUB_SUBDOMAIN_HOST"):
    c.ServerApp.tornado_settings = {
        "headers": {"Content-Security-Policy": "frame-ancestors 'self'"}
    }
