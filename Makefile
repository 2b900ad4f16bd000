# Two commands for a newcomer (see README):
#   make drill   create .venv if needed, then start today's drill
#   make test    create .venv if needed, then lint and run the whole test suite
#
# The environment is rebuilt only when pyproject.toml changes, so a second run
# takes seconds. Torch is chosen so that a CPU-only machine never downloads the
# multi-GB CUDA build: an importable torch first, then a torch wheel in pip's
# configured local wheel folder, then PyTorch's CPU index, the default index last.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu

.PHONY: drill test lint format bench catalog clean

drill: $(VENV)/.ready
	$(BIN)/quizcnn drill

test: $(VENV)/.ready
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

lint: $(VENV)/.ready
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.ready
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# the message catalogs: quizcnn/locale/<lang>/LC_MESSAGES/quizcnn.po -> .mo
catalog: $(VENV)/.ready
	$(BIN)/python -c "import pathlib; from quizcnn.i18n import compile_po; \
	[p.with_suffix('.mo').write_bytes(compile_po(p.read_text(encoding='utf-8'))) \
	 for p in pathlib.Path('quizcnn/locale').glob('*/LC_MESSAGES/quizcnn.po')]"

bench: $(VENV)/.ready
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

$(VENV)/.ready: pyproject.toml
	@if [ ! -x $(BIN)/python ]; then \
	  if $(PYTHON) -c "import torch" 2>/dev/null; then \
	    echo "using the torch already importable from $(PYTHON)"; \
	    $(PYTHON) -m venv --system-site-packages $(VENV); \
	  else \
	    $(PYTHON) -m venv $(VENV); \
	  fi; \
	fi
	@if ! $(BIN)/python -c "import torch" 2>/dev/null; then \
	  wheel=$$($(BIN)/python -c "import glob, os, subprocess; \
	links = (os.environ.get('PIP_FIND_LINKS', '') + ' ' + subprocess.run(['$(BIN)/python', '-m', 'pip', 'config', 'get', 'global.find-links'], capture_output=True, text=True).stdout).split(); \
	print(next((w for d in links for w in sorted(glob.glob(os.path.join(d.removeprefix('file://'), 'torch-*cpu*.whl')), reverse=True)), ''))"); \
	  if [ -n "$$wheel" ]; then \
	    echo "installing CPU torch from the local wheel $$wheel"; \
	    $(BIN)/python -m pip install -q "$$wheel"; \
	  elif command -v nvidia-smi >/dev/null 2>&1; then \
	    $(BIN)/python -m pip install -q torch; \
	  else \
	    echo "installing CPU torch from $(TORCH_CPU_INDEX)"; \
	    $(BIN)/python -m pip install -q torch --index-url $(TORCH_CPU_INDEX) \
	      || $(BIN)/python -m pip install -q torch; \
	  fi; \
	fi
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache
