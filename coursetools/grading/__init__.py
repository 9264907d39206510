"""The grader: grading a class, reporting it, making its feedback (trusted code, the grader's own process).

* :mod:`.submission`: grade one submission (the core both runners loop over);
* :mod:`.sequential` (``course grade``) and :mod:`.parallel` (``course grade-parallel``, on Dask, with
  :mod:`.dask_security`): the runners; :mod:`.warm_nbgrader` forks nbgrader for them, :mod:`.memory`
  measures it;
* :mod:`.statuses`: what happened to each submission, in the status file;
* :mod:`.report`: the grade report, from the status file and the gradebook;
* :mod:`.feedback`: ``course feedback`` and its leak scan.

docs/architecture.md follows a submission through these modules.
"""
