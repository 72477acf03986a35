# The two commands: `make demo` runs the demo panel, `make test` runs the whole suite.
# Each sets up its own virtualenv (.venv) and installs PanelPay with what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# setuptools notes "Editable installation. Please be careful with folders … named like your package" on every
# editable install of a package that lives in a folder of another name (panelpay in plugin/); pip shows it.
QUIET_EDITABLE := PYTHONWARNINGS="ignore:Editable installation"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(QUIET_EDITABLE) $(PY) -m pip install -q -e '.[dev]'
	touch $@

.PHONY: install test demo bench
install: $(VENV)/.installed

test: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

demo: $(VENV)/.installed
	$(VENV)/bin/panelpay demo $(DEMO_ARGS)

bench: $(VENV)/.installed
	$(PY) -m bench $(BENCH_ARGS)
