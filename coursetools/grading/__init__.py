"""Batch grading of a class: :mod:`.batch` (one student after the other), :mod:`.parallel` (on Dask),
:mod:`.report` (the grade report), :mod:`.memory` (peak memory of a grading run)."""
