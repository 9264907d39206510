# Short aliases. `make <target>` runs `python3 dev.py ...` or the course CLI (`course <verb>`, the same as
# `python -m coursetools <verb>`) in the course's environment; tests/course/test_makefile.py checks the mapping.
PYTHON ?= python3
COURSE = $(PYTHON) dev.py python -m coursetools
# A=<assignment> picks another assignment (default: DEFAULT_ASSIGNMENT of coursetools/settings.py)
A ?=

.PHONY: demo test release expected-output grade report feedback zip-collect grade-parallel evaluate shakespeare-model
demo:              ## build the release, autograde sample submissions, print the scores
	$(PYTHON) dev.py demo
test:              ## the whole test suite
	$(PYTHON) dev.py test
release:           ## copy utils/data/models into source/ and rebuild release/ with nbgrader
	$(COURSE) release
expected-output:   ## refresh the notebook's expected training output from the reference solution
	$(COURSE) expected-output
grade:             ## autograde submitted/ robustly, print the grade report (reports/<assignment>.csv)
	$(COURSE) grade $(A)
report:            ## print the grade report again
	$(COURSE) report $(A)
feedback:          ## feedback HTML without hidden tests, then a leak scan
	$(COURSE) feedback $(A)
zip-collect:       ## LMS zip in downloaded/<assignment>/archive/ -> submitted/
	$(COURSE) zip-collect $(A)
grade-parallel:    ## autograde every submission on Dask (SCHEDULER=tls://host:port TLS="--tls-ca-file .. --tls-cert .. --tls-key .." for an existing cluster)
	$(COURSE) grade-parallel $(A) $(if $(SCHEDULER),--scheduler $(SCHEDULER) $(TLS))
evaluate:          ## print the test NLL of every dinosaur-name model (Going further)
	$(COURSE) evaluate
shakespeare-model: ## retrain the Shakespeare LSTM + n-gram baselines (16-40 min on 2 CPU cores)
	nice -n 10 $(COURSE) shakespeare-model
