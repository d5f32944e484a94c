# Shifu 师傅 — every target creates .venv when it is missing and installs the project into it.
VENV   := .venv
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
BIN    := $(CURDIR)/$(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# nbgrader shells out to `alembic`: the venv's bin must be on PATH for every command.
export PATH := $(BIN):$(PATH)

.PHONY: lab mentor hub test demo setup clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Shifu needs Python >= 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

## make lab: set up and open the course in JupyterLab (under CI / with no display: start, check, stop)
lab: $(STAMP)
	$(BIN)/shifu lab $(if $(SERVE),--serve,)

## make mentor: the mentor's JupyterLab on the same machine — starts in course/ with the formgrader
## (Manage Assignments, Collect, Manual Grading); `make lab` opens the trainee's side
mentor: $(STAMP)
	$(BIN)/shifu lab --mentor $(if $(SERVE),--serve,)

## make hub: the cohort on JupyterHub — real logins, nbgrader's exchange, PostgreSQL gradebook, role-play service
## (needs root, Node.js ≥ 18 with npm, PostgreSQL's server programs; under CI / with no display: start, check, stop)
PROXY := hub/node_modules/.bin/configurable-http-proxy
$(PROXY): hub/package.json hub/package-lock.json
	npm ci --prefix hub --no-audit --no-fund
	touch $(PROXY)

hub: $(STAMP) $(PROXY)
	$(BIN)/shifu hub up $(if $(SERVE),--serve,)

## make test: the whole test suite
test: $(STAMP)
	$(BIN)/python -m pytest

## make demo: headless end-to-end run on the embedded defaults
demo: $(STAMP)
	$(BIN)/shifu demo --out demo-out

clean:
	rm -rf $(VENV) course/release course/submitted course/autograded course/feedback course/gradebook.db demo-out hub/node_modules
