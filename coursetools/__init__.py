"""Course tooling for Dinosaurus Island: release build, grading, reports.

Notebooks never import this package; students never receive it.
"""
