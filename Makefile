# Convenience wrappers around dev.py, which needs nothing but Python 3.11.
PYTHON ?= python3

.PHONY: demo test release expected-output
demo:            ## build the release, autograde sample submissions, print the scores
	$(PYTHON) dev.py demo
test:            ## the whole test suite
	$(PYTHON) dev.py test
release:         ## copy utils/data into source/ and rebuild release/ with nbgrader
	$(PYTHON) dev.py python -m coursetools release
expected-output: ## refresh the notebook's expected training output from the reference solution
	$(PYTHON) dev.py python -m coursetools expected-output

.PHONY: grade report feedback zip-collect test-zoo
grade:           ## autograde submitted/ robustly, print the grade report (reports/dinosaurus_island.csv)
	$(PYTHON) dev.py python -m coursetools grade dinosaurus_island
report:          ## print the grade report again
	$(PYTHON) dev.py python -m coursetools report dinosaurus_island
feedback:        ## feedback HTML without hidden tests, then a leak scan
	$(PYTHON) dev.py python -m coursetools feedback dinosaurus_island
zip-collect:     ## LMS zip in downloaded/dinosaurus_island/archive/ -> submitted/
	$(PYTHON) dev.py python -m nbgrader zip_collect dinosaurus_island
test-zoo:        ## autograde the submission zoo (minutes)
	$(PYTHON) dev.py python -m pytest -q tests/test_autograder_zoo.py

.PHONY: evaluate going-further
evaluate:        ## print the test NLL of every dinosaur-name model (Going further)
	$(PYTHON) dev.py python -m coursetools.evaluate
going-further:   ## retrain course-RNN variants + LSTM, rerun the Going further notebook (~10 min)
	$(PYTHON) dev.py python -m coursetools.evaluate --train --train-lstm --notebook

.PHONY: bench grade-parallel
bench:           ## performance figures: training vs plain engine, grading, Dask speed-up, memory
	$(PYTHON) dev.py python bench/bench_all.py
grade-parallel:  ## autograde every submission on Dask (SCHEDULER=tcp://host:port for an existing cluster)
	$(PYTHON) dev.py python -m coursetools grade-parallel $(if $(SCHEDULER),--scheduler $(SCHEDULER))

.PHONY: shakespeare-model shakespeare-bench
shakespeare-model: ## retrain the Shakespeare LSTM + n-gram baselines (16-40 min on 2 CPU cores)
	nice -n 10 $(PYTHON) dev.py python -m coursetools.shakespeare_train
shakespeare-bench: ## seconds per extra epoch, per 400 generated characters, to score the test part
	$(PYTHON) dev.py python bench/bench_shakespeare.py
