"""One way for a model's config dataclass to live in its folder, and one way to check it.

@dataclasses.dataclass
class MyConfig(SavedConfig):
    dim: int = 64
    def validate(self):
        check([(self.dim > 0, f"--dim must be positive, got {self.dim}")])
        return self
MyConfig(dim=8).save("runs/x"); MyConfig.load("runs/x")      # runs/x/config.json, written atomically
"""

from __future__ import annotations

import dataclasses
import os

from core import files

FILE = "config.json"


def check(checks: list[tuple[bool, str]]) -> None:
    """Raise ValueError with the message of the first (ok, message) that is not ok."""
    for ok, message in checks:
        if not ok:
            raise ValueError(message)


class SavedConfig:
    """Mixin for a config dataclass saved as FOLDER/config.json (or another FILE: a second settings file beside
    it). A setting the class does not know is refused by name (a folder from another version or another kind of
    model), unless IGNORE_UNKNOWN (a file other tools add to, e.g. an export's)."""

    FILE = FILE
    IGNORE_UNKNOWN = False

    def save(self, folder: str) -> None:
        files.write_json(os.path.join(folder, self.FILE), dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, values: dict):
        return cls(**values)

    @classmethod
    def load(cls, folder: str):
        path = os.path.join(folder, cls.FILE)
        values = files.read_json(path)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown and not cls.IGNORE_UNKNOWN:
            raise ValueError(f"{path} has settings this version does not know: {', '.join(unknown)}")
        return cls.from_dict({k: v for k, v in values.items() if k in known})
