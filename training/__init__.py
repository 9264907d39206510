"""Model-training and research scripts of the instructor (not part of the grading package).

Run from the repository root: ``python -m training.expected_output``, ``python -m training.evaluate``,
``python -m training.shakespeare_train``.
"""
