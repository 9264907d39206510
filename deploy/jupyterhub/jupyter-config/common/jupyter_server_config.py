"""Jupyter Server settings every server of the hub shares (students, instructors, the grader service).

JupyterLab's default settings come from ``lab-settings/overrides.json`` beside this file
(jupyterlab_server reads overrides only from ``LabApp.app_settings_dir``):

- the notebook is rendered whole (``windowingMode: none``): with JupyterLab's windowing, a
  table-of-contents link to a heading far below (past the notebook's tall figure and test
  cells) landed on a blank screen on the first click;
- no news and no update check (nothing may load from the network; the announcements plugin
  is also disabled in each role's ``labconfig/page_config.json``).

A student can still change both in *Settings*: these are defaults, not locks.
"""

from pathlib import Path

c = get_config()  # noqa: F821

c.LabApp.app_settings_dir = str(Path(__file__).resolve().parent / "lab-settings")
