"""Which tests share a pytest-xdist worker (scripts/test.sh runs `-n 2 --dist loadgroup`).

Each file is one group, so its module fixtures (trained models, servers) are made once. The files that need the
tiny app models (tests/apphelpers.py) are one group together: one worker builds those models and starts one app
server for all of them while the other worker runs the rest. With a group per file (`--dist loadfile`) the
second worker that asked for the models waited on the first one's build lock for up to three minutes, and each
worker started its own server.
"""

import pytest

APP_FILES = {"test_app.py", "test_bench.py", "test_browser.py", "test_fuzz_app.py", "test_load_app.py"}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook turns the marks into the scheduler's groups
def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.xdist_group("app" if item.path.name in APP_FILES else item.path.name))
