"""Shared helpers for the benchmarks: quiet environment, machine description, timing and the JSON result line.

Every benchmark prints exactly one JSON object as its LAST line of stdout (anything else goes to stderr), so a
runner can take `stdout.strip().splitlines()[-1]`.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import sys
import time

from core.jit import cpu

QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
}


def quiet() -> None:
    for k, v in QUIET_ENV.items():
        os.environ.setdefault(k, v)


quiet()


def machine() -> dict:
    """What ran the numbers (CPU model and vector ISA, cores), plus the load average at the start so noisy runs
    can be told apart."""
    info = {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version()}
    try:
        info["loadavg_1m"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    info.update(cpu())
    return info


def emit(result: dict, out: str | None = None) -> dict:
    """Print the result as the last line of stdout; then also write it to `out` (a --out path) when given, so
    that the figures are on stdout even when the file cannot be written. A result without a `machine` record gets
    one; every result gets the load average at its end beside the one at its start."""
    record = result.setdefault("machine", machine()) if "machine_at_start" not in result else None
    if isinstance(record, dict):
        try:
            record["loadavg_1m_end"] = round(os.getloadavg()[0], 2)
        except OSError:
            pass
    sys.stdout.flush()
    print(json.dumps(result, sort_keys=False), flush=True)
    if out:
        from core import files

        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        files.write_json(out, result)
    return result


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def median(values):
    return statistics.median(values) if values else float("nan")


def set_threads(threads: int | None) -> None:
    """Pin TensorFlow's and PyTorch's thread pools (0/None leaves each framework's default)."""
    if not threads:
        return
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if "tensorflow" in sys.modules or _importable("tensorflow"):
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # already initialised
            pass
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(threads)


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def add_lm_shape(p, *, layers=4, heads=4, dim=128, vocab=65, seq=256) -> None:
    p.add_argument("--arch", default="transformer", choices=["transformer", "lstm"])
    p.add_argument("--layers", type=int, default=layers)
    p.add_argument("--heads", type=int, default=heads)
    p.add_argument("--dim", type=int, default=dim)
    p.add_argument("--vocab", type=int, default=vocab)
    p.add_argument("--seq", type=int, default=seq, help="context length (generation) / sequence length (training)")
    p.add_argument("--threads", type=int, default=0, help="intra/inter-op threads (0: the framework's default)")


def last_json(text: str) -> dict:
    """The JSON object on the last non-empty line of a benchmark's stdout."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        raise ValueError("benchmark printed nothing on stdout")
    return json.loads(lines[-1])


def rss_mb(pid: int | None = None) -> float:
    """Resident memory (VmRSS from /proc) of process `pid` (default: this one), in MB."""
    with open(f"/proc/{pid or os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def wait_until_ready(proc, url: str, log_text, timeout: float) -> float:
    """Seconds until `python app.py` (the Popen `proc`) has logged "SeqLab ready on" and answers at `url`;
    RuntimeError if it exits first, TimeoutError (after stopping it) if it takes longer than `timeout`."""
    import urllib.request

    start = time.perf_counter()
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode}:\n{log_text()[-4000:]}")
        if "SeqLab ready on" in log_text():
            try:
                urllib.request.urlopen(url + "gradio_api/info", timeout=5).read()
                return time.perf_counter() - start
            except OSError:
                pass
        if time.perf_counter() - start > timeout:
            proc.kill()
            proc.wait()
            raise TimeoutError(f"app.py not ready after {timeout} s:\n{log_text()[-4000:]}")
        time.sleep(0.25)
