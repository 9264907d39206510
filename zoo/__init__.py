"""The submission zoo: every kind of submission a class produces, built from the course notebooks (:mod:`zoo.build`).

Used by the tests (``tests/grading/test_zoo.py``) and the benchmarks (``bench/bench_zoo.py``).
"""
