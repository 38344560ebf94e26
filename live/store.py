"""The models live jobs made, under their live names, for a while: each is a model folder (the layout the CLIs
write, loadable by core.model.load), kept KEEP_SECONDS after its last use and at most MOST at once (the least
recently used goes first), with a zip of it for download.

    from live.store import Store
    store = Store("/tmp/seqlab-live/models")
    store.add("live-bert-3f2a9c", "jobs/1/bert", "bert")
    store.load("live-bert-3f2a9c").fill_mask("the lord is my [MASK] .")
    store.zip("live-bert-3f2a9c")   # ".../live-bert-3f2a9c.zip": the folder's model files
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import threading
import time
import zipfile

PREFIX = "live-"  # every live name starts so: a name that does not is never looked up here
KEEP_SECONDS = 30 * 60
MOST = 6
RUN_FILES = ("work", "logs", "checkpoint.json")  # what a run folder holds besides the model: not kept


class Expired(LookupError):
    """A live name that is gone (or never was); the message says which and what to do."""


@dataclasses.dataclass
class Live:
    name: str
    folder: str
    kind: str
    used: float
    model: object | None = None


class Store:
    def __init__(self, root: str | None = None, keep: float = KEEP_SECONDS, most: int = MOST, clock=time.monotonic):
        self.root = root or tempfile.mkdtemp(prefix="seqlab-live-models-")
        os.makedirs(self.root, exist_ok=True)
        self.keep, self.most, self.clock = keep, most, clock
        self._live: dict[str, Live] = {}
        self._gone: set[str] = set()
        self._lock = threading.RLock()

    @property
    def minutes(self) -> float:
        return self.keep / 60

    def add(self, name: str, folder: str, kind: str) -> str:
        """Move the model folder a job wrote under the store as `name` (its checkpoints and run files left out)."""
        target = os.path.join(self.root, name)
        shutil.move(folder, target)
        for entry in os.listdir(target):
            if entry.startswith("checkpoint-") or entry in RUN_FILES:
                path = os.path.join(target, entry)
                shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        with self._lock:
            self._live[name] = Live(name, target, kind, self.clock())
            self.expire()
        return target

    def expire(self) -> list[str]:
        """Drop the models unused for `keep` seconds, then the least recently used past `most`; their names."""
        with self._lock:
            now = self.clock()
            order = sorted(self._live.values(), key=lambda live: live.used)
            old = [live for live in order if now - live.used >= self.keep]
            old += [live for live in order if live not in old][: max(0, len(order) - len(old) - self.most)]
            for live in old:
                del self._live[live.name]
                self._gone.add(live.name)
                shutil.rmtree(live.folder, ignore_errors=True)
                if os.path.exists(live.folder + ".zip"):
                    os.remove(live.folder + ".zip")
            return [live.name for live in old]

    def names(self, kind: str | tuple[str, ...] | None = None) -> list[str]:
        """The live names of `kind` (a core.model KINDS key or a tuple of them), newest first."""
        kinds = (kind,) if isinstance(kind, str) else kind
        with self._lock:
            self.expire()
            found = sorted(self._live.values(), key=lambda live: -live.used)
            return [live.name for live in found if kinds is None or live.kind in kinds]

    def has(self, name) -> bool:
        """Whether `name` is a live name, living or expired (then `get` says it expired)."""
        return isinstance(name, str) and name.startswith(PREFIX) and (name in self._live or name in self._gone)

    def get(self, name: str) -> Live:
        with self._lock:
            self.expire()
            live = self._live.get(name)
            if live is None:
                if name in self._gone:
                    raise Expired(
                        f"model {name!r} was a live model and has expired (each is kept {self.minutes:g} minutes "
                        "after its last use): train it again in the Train tab"
                    )
                raise Expired(f"model {name[:100]!r} is not a live model on this server")
            live.used = self.clock()
            return live

    def load(self, name: str):
        """The live model (a core.model ModelFolder: lm.generate.LanguageModel, pretrain.api.Pretrained)."""
        live = self.get(name)
        if live.model is None:
            from core import model as folders

            live.model = folders.load(live.folder, live.kind)
            live.model.name = name
        return live.model

    def kind(self, name: str) -> str:
        return self.get(name).kind

    def zip(self, name: str) -> str:
        """A zip of the model folder (one folder `name/` inside): what core.model.load reads once unpacked."""
        from core.model import KINDS

        live = self.get(name)
        path = live.folder + ".zip"
        if not os.path.exists(path):
            tmp = path + ".part"
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
                for f in KINDS[live.kind].files:
                    if os.path.exists(os.path.join(live.folder, f)):
                        z.write(os.path.join(live.folder, f), os.path.join(name, f))
            os.replace(tmp, path)
        return path
