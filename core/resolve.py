"""One rule for finding a model: a bundled name, a local folder, or a Hugging Face Hub repo id (owner/name).

    from core.resolve import resolve
    folder = resolve("char-lstm", models_dir="lm/models", kind="language model", needs=("config.json",))

Every package calls this (through core.model), so every "not found" reads the same and is one exception type,
ModelNotFoundError: an OSError (a missing file) and a ValueError (a bad argument) at once, so callers that catch
either keep working.
"""

from __future__ import annotations

import os
from collections.abc import Sequence


class ModelNotFoundError(OSError, ValueError):
    """No model under that name: not bundled, not a folder, not fetchable from the Hub, or a folder of another kind."""


def bundled(models_dir: str) -> list[str]:
    """The bundled model names: the sub-folders of a package's models/ folder that hold a config.json."""
    if not os.path.isdir(models_dir):
        return []
    return sorted(d for d in os.listdir(models_dir) if os.path.exists(os.path.join(models_dir, d, "config.json")))


def is_hub_id(name: str) -> bool:
    return name.count("/") == 1 and not name.startswith((".", "/", "~")) and not name.endswith("/")


def check(folder: str, needs: Sequence[str], kind: str = "model") -> str:
    """`folder`, once it holds every file of `needs`; ModelNotFoundError naming the missing ones otherwise."""
    missing = [f for f in needs if not os.path.exists(os.path.join(folder, f))]
    if missing:
        raise ModelNotFoundError(f"{folder} is not a SeqLab {kind} folder: it lacks {', '.join(missing)}")
    return folder


def resolve(
    name,
    models_dir: str | Sequence[str],
    kind: str = "model",
    needs: Sequence[str] = ("config.json",),
    allow_patterns: list[str] | None = None,
) -> str:
    """The local folder for `name`; raises ModelNotFoundError with one line that says what was tried.
    `models_dir` may be several folders of bundled models: a name is looked up in each, in order."""
    dirs = [models_dir] if isinstance(models_dir, str) else list(models_dir)
    names = ", ".join(sorted({n for d in dirs for n in bundled(d)})) or "none"
    if not isinstance(name, str) or not name.strip():
        raise ModelNotFoundError(
            f"give a {kind}: a bundled name ({names}), a folder or a Hugging Face Hub repo id (owner/name)"
        )
    home = next((d for d in dirs if "/" not in name and name in bundled(d)), None)
    if home is not None:
        folder = os.path.join(home, name)
    elif os.path.isdir(name):
        folder = name
    elif is_hub_id(name):
        from huggingface_hub import snapshot_download

        try:
            folder = snapshot_download(repo_id=name, allow_patterns=allow_patterns)
        except Exception as e:  # offline, missing repo, bad id, no rights: all need the same clear message
            reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            raise ModelNotFoundError(
                f"{kind} {name!r} not found: no such folder, and as a Hugging Face Hub repo id "
                f"it could not be fetched ({reason})"
            ) from None
    else:
        raise ModelNotFoundError(
            f"{kind} {name!r} not found: not a bundled {kind} ({names}), a folder or a Hugging Face Hub "
            "repo id (owner/name)"
        )
    return check(folder, needs, kind)
