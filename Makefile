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
