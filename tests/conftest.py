"""Which tests share a pytest-xdist worker (scripts/test.sh runs `-n 2 --dist loadgroup`).

Each file is one group, so its module fixtures (trained models, servers) are made once. The files that need the
tiny app models (tests/apphelpers.py) are one group together: one worker builds those models and starts one app
server for all of them while the other worker runs the rest. With a group per file (`--dist loadfile`) the
second worker that asked for the models waited on the first one's build lock for up to three minutes, and each
worker started its own server. The groups are handed out longest first, by the suite's last recorded time per
file (bench/results/suite_cpu_avx2.json, written by tests/cpu_report.py), instead of xdist's default of most tests
first: on a fresh clone one worker then no longer waits minutes for the other at the end.

With SEQLAB_TEST_CPU=DIR each test process also writes DIR/<worker>.json: every test's wall time and the CPU it
used in the test process and in the child processes it waited for (a server stopped at exit is counted nowhere),
for `python tests/cpu_report.py DIR`: where the suite's time goes, file by file.
"""

import json
import os
import resource
import time

import pytest

APP_FILES = {"test_app.py", "test_bench.py", "test_browser.py", "test_fuzz_app.py", "test_load_app.py"}
# The suite's last recorded wall time per file (tests/cpu_report.py): the longest groups go first
RECORD = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench/results/suite_cpu_avx2.json")


def _group(name: str) -> str:
    """The xdist group of a test file."""
    return "app" if name in APP_FILES else name


def _recorded_seconds() -> dict[str, float]:
    """Seconds per group in the record ({} without one): what a group is likely to take."""
    try:
        with open(RECORD) as f:
            files = json.load(f)["files"]
    except (OSError, ValueError, KeyError):
        return {}
    seconds: dict[str, float] = {}
    for path, row in files.items():
        group = _group(os.path.basename(path))
        seconds[group] = seconds.get(group, 0.0) + row["wall_s"]
    return seconds


def pytest_configure(config):
    # xdist hands out groups in collection order instead of by their number of tests: a one-test file can be the
    # longest (a browser test), and the longest ones run first, so that the last ones to finish are short and
    # neither worker waits long for the other at the end
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook turns the marks into the scheduler's groups
def pytest_collection_modifyitems(items):
    seconds = _recorded_seconds()
    order = {id(item): i for i, item in enumerate(items)}
    items.sort(key=lambda item: (-seconds.get(_group(item.path.name), 0.0), _group(item.path.name), order[id(item)]))
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item.path.name)))


_CPU_DIR = os.environ.get("SEQLAB_TEST_CPU")
_cpu_rows: list[dict] = []


def _cpu_now() -> tuple[float, float]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if not _CPU_DIR:
        yield
        return
    start, (own, children) = time.time(), _cpu_now()
    yield  # setup, call and teardown: a module fixture's cost lands on the test that made or ended it
    own_end, children_end = _cpu_now()
    _cpu_rows.append(
        {
            "test": item.nodeid,
            "wall_s": time.time() - start,
            "cpu_s": own_end - own,
            "children_cpu_s": children_end - children,
        }
    )


def pytest_sessionfinish(session):
    if _CPU_DIR and _cpu_rows:
        os.makedirs(_CPU_DIR, exist_ok=True)
        with open(os.path.join(_CPU_DIR, os.environ.get("PYTEST_XDIST_WORKER", "main") + ".json"), "w") as f:
            json.dump(_cpu_rows, f)
