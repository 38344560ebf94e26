"""Where the test suite's time goes, file by file, from a run with SEQLAB_TEST_CPU=DIR (tests/conftest.py):

    SEQLAB_TEST_CPU=/tmp/suite-cpu bash scripts/test.sh -q
    python tests/cpu_report.py /tmp/suite-cpu [--out bench/results/suite_cpu_avx2.json]

Prints each file's tests, wall seconds, and CPU seconds in the test process and in the child processes it waited
for, most CPU first, then each worker's busy time; with --out, also writes them as JSON (with the CPU it ran on).
"""

import argparse
import collections
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def report(folder: str) -> dict:
    files = collections.defaultdict(lambda: {"tests": 0, "wall_s": 0.0, "cpu_s": 0.0, "children_cpu_s": 0.0})
    workers = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        rows = json.load(open(path))
        workers[os.path.basename(path)[:-5]] = round(sum(r["wall_s"] for r in rows), 1)
        for r in rows:
            f = files[r["test"].split("::")[0]]
            f["tests"] += 1
            for key in ("wall_s", "cpu_s", "children_cpu_s"):
                f[key] += r[key]
    order = sorted(files, key=lambda n: -(files[n]["cpu_s"] + files[n]["children_cpu_s"]))
    return {"files": {n: {k: round(v, 1) for k, v in files[n].items()} for n in order}, "worker_wall_s": workers}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folder")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    result = report(args.folder)
    print(f"{'file':40s} {'tests':>5s} {'wall s':>7s} {'cpu s':>7s} {'children':>8s}")
    for name, f in result["files"].items():
        print(f"{name:40s} {f['tests']:5d} {f['wall_s']:7.0f} {f['cpu_s']:7.0f} {f['children_cpu_s']:8.0f}")
    print("worker busy, s:", result["worker_wall_s"])
    if args.out:
        from core import files
        from core.jit import cpu

        command = f"SEQLAB_TEST_CPU={args.folder} bash scripts/test.sh -q; python tests/cpu_report.py {args.folder}"
        files.write_json(args.out, {**result, "command": command, "machine": {**cpu(), "cpus": os.cpu_count()}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
