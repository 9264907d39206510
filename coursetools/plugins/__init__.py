"""What nbgrader loads through ``nbgrader_config.py``: the grading executor and its kernel launcher
(:mod:`.execute`, :mod:`.kernel_launch`, :mod:`.trusted_tests` with :mod:`.proxy`, :mod:`.plaindata`, :mod:`.kernel_stub`), a sanitizing step (:mod:`.sanitize`)
and leak-free feedback (:mod:`.feedback`)."""
