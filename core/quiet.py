"""TensorFlow's start-up notes, left out of a command's stderr.

TensorFlow 2.21 prints three lines at import, twice (two of its libraries each print them), through absl before
its logging is set up, so TF_CPP_MIN_LOG_LEVEL does not reach them: "Could not find cuda drivers", "oneDNN custom
operations are on" and "All log messages before absl::InitializeLog()". They are harmless on a CPU machine but
read like errors. `import_tensorflow()` imports TensorFlow once with file descriptor 2 passed through a pipe that
drops exactly those lines; every other line goes on to stderr as it comes. app.py and every core.cli command call
it first; with TF_CPP_MIN_LOG_LEVEL unset or 0 nothing is filtered.
"""

from __future__ import annotations

import os
import re
import threading

# TensorFlow 2.21 prints these at import, twice (two of its libraries each print them), through absl before its
# logging is set up, so TF_CPP_MIN_LOG_LEVEL does not reach them. They are harmless notes on a CPU machine (oneDNN
# kernels are in use; no GPU driver, so the CPU is used) that read like errors.
TF_IMPORT_NOTES = re.compile(
    rb"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|I\d{4} [\d:.]+ +\d+ (port\.cc:\d+\] oneDNN custom operations are on"
    rb"|cudart_stub\.cc:\d+\] Could not find cuda drivers)"
)


def import_tensorflow() -> None:
    """Import TensorFlow with its start-up notes (TF_IMPORT_NOTES) left out of stderr when TF_CPP_MIN_LOG_LEVEL
    asks for quiet: they are written by C++ to file descriptor 2, so it is passed through a pipe for the import
    and every other line goes on to stderr as it comes."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") in ("", "0"):
        return  # all of TensorFlow's messages are wanted: it is imported where it is first used
    stderr = os.dup(2)
    read, write = os.pipe()
    os.dup2(write, 2)
    os.close(write)

    def forward():
        with os.fdopen(read, "rb") as pipe:
            for line in pipe:
                if not TF_IMPORT_NOTES.match(line):
                    os.write(stderr, line)

    forwarder = threading.Thread(target=forward, daemon=True)
    forwarder.start()
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        pass  # a JAX-only machine: nothing to quieten
    finally:
        os.dup2(stderr, 2)  # the pipe's last writer closes: the forwarder reads to its end and stops
        forwarder.join(timeout=5)
        os.close(stderr)
