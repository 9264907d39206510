"""What nbgrader loads through ``nbgrader_config.py``: the grading executor and its kernel launcher
(:mod:`.execute`, :mod:`.kernel_launch`, :mod:`.kernel_guard`), a sanitizing step (:mod:`.sanitize`)
and leak-free feedback (:mod:`.feedback`)."""
