"""What nbgrader loads: every class and hook that ``nbgrader_config.py`` names, and nothing else.

* :mod:`.execute`: ``GradingExecute`` and its ``CappedKernelManager`` (the sandbox, the caps and the
  trusted verdicts of :mod:`coursetools.security`, plugged into nbgrader's Execute step);
* :mod:`.untrusted_files`: ``DropUntrustedFiles`` (links and special files never graded or kept);
* :mod:`.notebook_metadata`: ``DropEmptyNbgraderMetadata`` (a repair nbgrader 0.9 needs);
* :mod:`.safe_notebook`: ``SanitizeAutograded`` (the graded copy is safe to open in the formgrader);
* :mod:`.feedback`: ``SanitizeFeedback``, ``HideHiddenTests``, the feedback template and its hook;
* :mod:`.exchange`: ``OwnerCollect`` (``nbgrader collect``: the owner, the server's time, plain files);
* :mod:`.zip_collect`: safe extraction and collection of an LMS download.

These run inside nbgrader's process; they hold no security logic of their own beyond wiring it in.
"""
