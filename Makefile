# Two entry points: `make example` and `make test`. Both create .venv and install the project first.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.modelmill-installed

.PHONY: install example test bench clean

$(INSTALLED): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first: a bare `torch` requirement would pull several GB of CUDA packages
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

install: $(INSTALLED)

example: $(INSTALLED)
	HF_HUB_OFFLINE=1 $(BIN)/modelmill run sentiment

test: $(INSTALLED)
	$(BIN)/python -m pytest

bench: $(INSTALLED)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/padding.py

clean:
	rm -rf $(VENV) .modelmill
