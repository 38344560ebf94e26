#!/usr/bin/env bash
# Install SeqLab's pinned stack and start the app on the bundled models (http://127.0.0.1:7860).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
export TF_CPP_MIN_LOG_LEVEL=3 GRADIO_ANALYTICS_ENABLED=False
exec .venv/bin/python app.py "$@"
