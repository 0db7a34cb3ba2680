# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: run test install lint test-python test-php chaos stack-start stack-stop stack-status stack-reset \
        demo bench bench-ingress bench-streams bench-replay bench-zoho-sink bench-zoho-puller bench-moodle-sink \
        bench-e2e plugin-zip moodle-check

install:
	@bash tools/install.sh

run: install
	@$(PY) -m stack start
	@$(PY) -m stack ports
	@$(PY) -m stack banner
	@.venv/bin/honcho -f Procfile start

test: install lint test-python test-php

lint:
	.venv/bin/ruff check .
	.venv/bin/mypy common stack producers control streams projections sinks pullers schemas ops bench

test-python:
	$(PY) -m pytest

# The long chaos run (the reduced one is part of `make test`).
chaos: install
	CHAOS_FULL=1 $(PY) -m pytest tests/e2e/test_chaos.py

test-php:
	@if [ -f tests/moodle_plugin/run.sh ]; then bash tests/moodle_plugin/run.sh; else echo "no PHP tests yet"; fi

stack-start: install
	$(PY) -m stack start
stack-stop:
	$(PY) -m stack stop
stack-status:
	$(PY) -m stack status
stack-reset:
	$(PY) -m stack reset

demo: install
	$(PY) -m ops.demo

bench: bench-ingress bench-streams bench-replay bench-zoho-sink bench-zoho-puller bench-moodle-sink bench-e2e

bench-ingress: install
	$(PY) -m bench.ingress

# e.g. make bench-streams ARGS="--records 1000000 --workers 1 --order sorted" (python -m bench.streams --help)
bench-streams: install
	$(PY) -m bench.streams $(ARGS)

bench-replay: install
	$(PY) -m bench.replay

bench-zoho-sink: install
	$(PY) -m bench.zoho_sink

bench-zoho-puller: install
	$(PY) -m bench.zoho_puller

bench-moodle-sink: install
	$(PY) -m bench.moodle_sink

bench-e2e: install
	$(PY) -m bench.e2e

# The plugin in a real Moodle against the product (needs a Moodle source tree: not run in CI).
moodle-check: install
	@MOODLE_SRC="$(MOODLE_SRC)" BTEC_SRC="$(BTEC_SRC)" bash tools/moodle_check/run.sh $(MOODLE_CHECK_ARGS)

plugin-zip:
	bash tools/plugin_zip.sh
