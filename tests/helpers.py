"""Small real inputs shared by the tests: a tiny play-shaped corpus and a way to run SeqLab's CLIs."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(
    os.environ,
    TF_CPP_MIN_LOG_LEVEL="3",
    PYTHONPATH=ROOT,
    HF_HUB_OFFLINE="1",
    HF_DATASETS_OFFLINE="1",
    GRADIO_ANALYTICS_ENABLED="False",
)

SPEAKERS = ["ROMEO", "JULIET", "NURSE", "FRIAR"]
LINES = [
    "But soft, what light through yonder window breaks?",
    "It is the east, and Juliet is the sun.",
    "O Romeo, Romeo, wherefore art thou Romeo?",
    "Deny thy father and refuse thy name.",
    "What's in a name? That which we call a rose",
    "By any other word would smell as sweet.",
    "Good night, good night! Parting is such sweet sorrow.",
    "These violent delights have violent ends.",
]


def tiny_corpus(folder: str, speeches: int = 400) -> str:
    """A play-shaped text file: `NAME:` lines, speeches, blank lines; about 30 KB."""
    path = os.path.join(folder, "tiny.txt")
    with open(path, "w", encoding="utf-8") as f:
        for i in range(speeches):
            f.write(f"{SPEAKERS[i % 4]}:\n{LINES[i % 8]}\n{LINES[(i * 3 + 1) % 8]}\n\n")
    return path


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)


def run_here(*args: str) -> subprocess.CompletedProcess:
    """A CLI (`"-m", module, *argv`) run in this process, giving what `run` gives (exit code, stdout, stderr) without
    a new interpreter: each one spends seconds of CPU importing TensorFlow, the largest cost of a tiny test run. For
    tests of what a command does and prints; a test of how a process ends (kill -9, a signal) uses `run`. The
    command's `main(argv)` is the module's (or its package's `__main__`'s), as `python -m` would call it."""
    assert args[0] == "-m", args
    module = importlib.import_module(args[1])
    main = getattr(module, "main", None) or importlib.import_module(args[1] + ".__main__").main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            result = main(list(args[2:]))
            code = result if isinstance(result, int) else 0  # a bench's main returns its dict: `main()` exits 0
        except SystemExit as e:  # argparse's exit 2, or a command's own sys.exit
            code = e.code if isinstance(e.code, int) or e.code is None else 1
    return subprocess.CompletedProcess([sys.executable, *args], code or 0, out.getvalue(), err.getvalue())


def run_side_by_side(
    *commands: list[str], timeout: float = 600, env: dict | None = None
) -> list[subprocess.CompletedProcess]:
    """Each command (python's arguments) in its own process, all at once: small models leave a core idle, so two
    short trainings side by side take little longer than one. `timeout` is for them all; on it, all are killed."""
    procs = [
        subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env or ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for args in commands
    ]
    deadline, done = time.monotonic() + timeout, []
    try:
        for args, proc in zip(commands, procs):
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            done.append(subprocess.CompletedProcess([sys.executable, *args], proc.returncode, out, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return done


@contextlib.contextmanager
def tiny_disk(folder, size: str):
    """A tmpfs of `size` mounted at folder (created) for the duration: a disk that fills. Skips, saying why,
    where it cannot mount one (not root, or a container without the right to mount); CI runs as root."""
    import pytest

    os.makedirs(folder, exist_ok=True)
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mount.returncode != 0:
        who = "as root" if os.geteuid() == 0 else f"as uid {os.geteuid()}, not root"
        pytest.skip(
            f"needs root to mount a tmpfs for the full-disk test (CI runs as root); running {who}, "
            f"mount said: {mount.stderr.strip() or mount.returncode}"
        )
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)])
