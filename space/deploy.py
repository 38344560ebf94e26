"""Upload the app to a Hugging Face Space: `python -m space.deploy --repo USER/SPACE [--dry-run]`.

Uploads what the Space needs to run `app.py` (the app, the model code and the bundled models) and nothing
else: no tests, caches, virtual environments, training checkpoints or logs. `--dry-run` lists the files and
uploads nothing (no token needed). The token comes only from the HF_TOKEN environment variable or a stored
`hf auth login`; it is never printed.
"""

import argparse
import fnmatch
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What the Space runs: top-level files and folders, relative to the repository root.
INCLUDE = (
    "app.py",
    "README.md",
    "requirements.txt",
    "LICENSE",
    "space",
    "core",
    "lm",
    "pretrain",
    "classify",
    "corpus",
    "translate",
    "inside",
    "live",
    "docs/images",  # the README's screenshot
)
# Never uploaded, wherever they appear (matched against each path component).
EXCLUDE_DIRS = (
    "__pycache__",
    ".*",
    "tests",
    "venv",
    "env",
    "artifacts",
    "runs",
    "logs",
    "work",
    "node_modules",
    "checkpoint-*",
    "*.egg-info",
    "wandb",
)
EXCLUDE_FILES = (
    "*.pyc",
    "*.pyo",
    "*.tmp",
    "*.tmp[0-9]*",
    "*.log",
    ".*",
    "events.out.tfevents.*",
    "checkpoint.json",
    "optimizer.npz",
    "*.swp",
)


def _excluded(name: str, patterns) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in patterns)


def files_to_upload(root: str = ROOT) -> list[str]:
    """Repository-relative paths (with /) that the Space needs, sorted."""
    found = []
    for top in INCLUDE:
        path = os.path.join(root, top)
        if os.path.isfile(path):
            found.append(top)
        elif os.path.isdir(path):
            for folder, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not _excluded(d, EXCLUDE_DIRS))
                for name in sorted(files):
                    if not _excluded(name, EXCLUDE_FILES):
                        found.append(os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/"))
    return sorted(found)


def check_readme(root: str = ROOT) -> list[str]:
    """Problems with README.md's Spaces front matter (empty list: fine)."""
    path = os.path.join(root, "README.md")
    if not os.path.exists(path):
        return ["README.md is missing: a Space needs one with YAML front matter (sdk: gradio, app_file: app.py)"]
    text = open(path, encoding="utf-8").read()
    m = re.match(r"\A---\n(.*?)\n---\n", text, re.S)
    if not m:
        return ["README.md has no YAML front matter (---) for the Space: add sdk: gradio and app_file: app.py"]
    problems = []
    if not re.search(r"^sdk:\s*gradio\s*$", m.group(1), re.M):
        problems.append("README.md front matter lacks `sdk: gradio`")
    if not re.search(r"^app_file:\s*app\.py\s*$", m.group(1), re.M):
        problems.append("README.md front matter lacks `app_file: app.py`")
    return problems


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m space.deploy", description="Upload SeqLab's app to a Hugging Face Space."
    )
    p.add_argument("--repo", required=True, help="the Space, as USER/SPACE (created if it does not exist)")
    p.add_argument("--dry-run", action="store_true", help="list the files that would be uploaded; upload nothing")
    p.add_argument("--private", action="store_true", help="create the Space as private (if it does not exist)")
    p.add_argument("--message", default="Deploy SeqLab app", help="commit message")
    args = p.parse_args(argv)
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", args.repo):
        print(f"error: --repo must look like USER/SPACE, got {args.repo!r}", file=sys.stderr)
        return 2

    files = files_to_upload()
    total = sum(os.path.getsize(os.path.join(ROOT, f)) for f in files)
    for problem in check_readme():
        print(f"warning: {problem}", file=sys.stderr)
    missing = [n for n in ("app.py", "requirements.txt") if n not in files]
    if missing:
        print(f"error: {', '.join(missing)} missing from {ROOT}", file=sys.stderr)
        return 2

    if args.dry_run:
        print(f"Dry run: would upload {len(files)} files ({_size(total)}) to https://huggingface.co/spaces/{args.repo}")
        for f in files:
            print(f"  {f}  ({_size(os.path.getsize(os.path.join(ROOT, f)))})")
        return 0

    from huggingface_hub import CommitOperationAdd, HfApi, get_token

    token = get_token()  # HF_TOKEN, else the token stored by `hf auth login`
    if not token:
        print(
            "error: no Hugging Face token: set HF_TOKEN or run `hf auth login` (a token with write access)",
            file=sys.stderr,
        )
        return 2
    api = HfApi(token=token)
    try:
        api.create_repo(args.repo, repo_type="space", space_sdk="gradio", private=args.private, exist_ok=True)
        operations = [CommitOperationAdd(path_in_repo=f, path_or_fileobj=os.path.join(ROOT, f)) for f in files]
        commit = api.create_commit(args.repo, operations=operations, commit_message=args.message, repo_type="space")
    except Exception as e:  # network, permissions, quota: say which, without the token
        message = str(e).replace(token, "***")
        print(f"error: upload to {args.repo} failed: {type(e).__name__}: {message}", file=sys.stderr)
        return 1
    print(f"Uploaded {len(files)} files ({_size(total)}): {getattr(commit, 'commit_url', '')}")
    print(f"The Space builds at https://huggingface.co/spaces/{args.repo}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
