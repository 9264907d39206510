"""Attack submissions of the hostile-class suite, built by code (build.py)."""
