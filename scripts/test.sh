#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine (Python packages, Debian's Chromium for the
# browser tests), then run the whole suite. Extra arguments go to pytest.
# Two worker processes (SEQLAB_TEST_WORKERS, 0 = one process): one process keeps only ~1.3 of the two cores busy
# (imports, server start-ups and small models are mostly single-threaded), two finish the suite ~1.4x sooner.
# --dist loadgroup with tests/conftest.py's groups: each file stays on one worker, so a module's fixtures (trained
# models, servers) are made once, and the files that need the tiny app models share one worker and one server.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq && $sudo_ apt-get install -y -qq chromium >/dev/null
fi
[ -x .venv/bin/python ] || python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt -r requirements-test.txt
export TF_CPP_MIN_LOG_LEVEL=3 GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
exec .venv/bin/python -m pytest -n "${SEQLAB_TEST_WORKERS:-2}" --dist loadgroup "$@"
