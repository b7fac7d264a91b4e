# statetrainer developer commands. Everything runs inside .venv, which `make venv` creates.
#
#   make venv    create .venv (if missing) and install statetrainer editable with its dev extras
#   make demo    train the demo Transformer language model and record its run in docs/figures/demo.json
#   make test    run the test suite
#   make bench   run the benchmarks
#   make peer    run Lightning's own user-facing tests against statetrainer (../shared/peer; not part of make test)
#   make clean   remove caches, build outputs and training logs (keeps .venv)
#   make distclean   clean, and remove .venv too

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# torch is installed on its own first and pinned: the pin matches the CPU wheel this
# machine keeps locally, so pip does not fetch the multi-gigabyte CUDA build.
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

PEER_DEPS := pytest-xdist pytest-timeout cloudpickle psutil scikit-learn "jsonargparse[signatures]" tensorboard

.PHONY: venv demo test bench peer clean distclean

venv: $(STAMP)

$(STAMP): setup.py setup.cfg
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

demo: venv
	$(PY) -m statetrainer.demos.transformer --record docs/figures/demo.json
	$(PY) tests/test_docs_figures.py --write

test: venv
	$(PY) -m pytest -q $(PYTEST_ARGS) tests

bench: venv
	$(PY) benchmarks/run.py

peer: venv
	$(PY) -m pip install --quiet $(PEER_DEPS)
	PEER_PYTHON=$(abspath $(PY)) ../shared/peer/run.sh $(PEER_ARGS)

clean:
	rm -rf build dist .eggs *.egg-info .pytest_cache .hypothesis
	rm -rf lightning_logs statetrainer_logs checkpoints .peer
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
