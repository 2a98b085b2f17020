# The two commands of the README: `make demo` (the main job, offline) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup test demo bench lint clean

setup: $(VENV)/.setup-done

$(VENV)/.setup-done: pyproject.toml constraints.txt scripts/setup.sh
	VENV=$(VENV) bash scripts/setup.sh
	touch $@

test: setup
	$(PY) -m pytest -q

# The demo keeps its state in ./out/demo-home unless SDFT_HOME says otherwise. Its base model is
# the bundled demo model (sdft_local/demo/model); DEMO_MODEL=tiny-random runs the path on random weights.
DEMO_MODEL ?= demo
demo: setup
	SDFT_HOME=$${SDFT_HOME:-$(CURDIR)/out/demo-home} $(PY) -m sdft_local.cli demo --reset --base-model $(DEMO_MODEL)

lint: setup
	$(VENV)/bin/lint-imports

bench: setup
	for b in bench/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
