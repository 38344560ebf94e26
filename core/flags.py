"""Config dataclasses that are the command line: a setting is written once, as a field, and becomes a flag.

    @dataclasses.dataclass
    class TrainConfig:
        corpus: str = flags.field(help="shakespeare, kjv, a text file or hf:NAME")         # no default: required
        run: RunConfig = dataclasses.field(default_factory=lambda: RunConfig(out=""))      # nested: its flags, flat
        batch_size: int = flags.field(32, help="sequences a step")
        level: str = flags.field("char", help="char | word", choices=("char", "word"))

    p = cli.parser("python -m lm.train", __doc__)
    flags.add(p, TrainConfig)                      # --corpus, --out, --steps | --minutes, --batch-size, --level ...
    config = flags.build(TrainConfig, p.parse_args(argv))

Nested configs (the model's, the optimizer's, the run's) give their flags flat, under their own names (`--lr`,
`--dim`), the spelling every SeqLab command has used; their defaults are the parent's (a task's default optimizer
is its own). That flat namespace is why this is a small helper and not tyro or simple-parsing, which prefix a
nested field (`--optimizer.lr`). A field with `cli=False` in its metadata is not a flag (one filled from the
tokenizer, say); a `core.budget.Budget` field is the `--steps N | --minutes M` pair. Two fields of one name are
refused when the parser is made, so a flag always means one setting.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing

from core.budget import Budget

MISSING = dataclasses.MISSING


def field(default=MISSING, *, help: str = "", choices=None, factory=None, cli: bool = True, metavar=None):
    """A config field with its flag's help (and choices)."""
    metadata = {"help": help, "choices": choices, "cli": cli, "metavar": metavar}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _base(hint):
    """int for `int | None`; the type itself otherwise."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0] if len(args) == 1 else str
    return hint


def _default_of(f: dataclasses.Field):
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return MISSING


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add(parser: argparse.ArgumentParser, cls, defaults=None, _seen: set | None = None) -> argparse.ArgumentParser:
    """Add a flag for every field of config class `cls` (and of its nested configs) to `parser`."""
    seen = set() if _seen is None else _seen
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if not f.metadata.get("cli", True):
            continue
        hint = _base(hints[f.name])
        default = getattr(defaults, f.name) if defaults is not None else _default_of(f)
        if hint is Budget:
            Budget.add_arguments(parser)
            continue
        if dataclasses.is_dataclass(hint):
            add(parser, hint, default if default is not MISSING else None, seen)
            continue
        if f.name in seen:
            raise TypeError(f"two config fields are named {f.name!r}: give one of them cli=False")
        seen.add(f.name)
        kwargs = {"help": f.metadata.get("help", ""), "dest": f.name}
        if f.metadata.get("metavar"):
            kwargs["metavar"] = f.metadata["metavar"]
        if default is MISSING or (defaults is not None and default == "" and f.default is MISSING):
            kwargs["required"] = True
        else:
            kwargs["default"] = default
        if hint is bool:
            parser.add_argument(_flag(f.name), action=argparse.BooleanOptionalAction, **kwargs)
        else:
            parser.add_argument(_flag(f.name), type=hint, choices=f.metadata.get("choices"), **kwargs)
    return parser


def build(cls, args: argparse.Namespace, defaults=None):
    """The config `args` (from a parser made by `add`) describe."""
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        hint = _base(hints[f.name])
        default = getattr(defaults, f.name) if defaults is not None else _default_of(f)
        if not f.metadata.get("cli", True):
            if default is not MISSING:
                values[f.name] = default
        elif hint is Budget:
            values[f.name] = Budget(steps=args.steps, minutes=args.minutes)
        elif dataclasses.is_dataclass(hint):
            values[f.name] = build(hint, args, default if default is not MISSING else None)
        else:
            values[f.name] = getattr(args, f.name)
    return cls(**values)


def argv(config, cls=None, defaults=None) -> list[str]:
    """The flags that give `config` where it differs from the defaults: what a card records for a run started
    from Python. Fields with no default (required flags) always appear."""
    cls = cls or type(config)
    hints = typing.get_type_hints(cls)
    out: list[str] = []
    for f in dataclasses.fields(cls):
        if not f.metadata.get("cli", True):
            continue
        hint, value = _base(hints[f.name]), getattr(config, f.name)
        default = getattr(defaults, f.name) if defaults is not None else _default_of(f)
        if hint is Budget:
            out += ["--steps", str(value.steps)] if value.steps is not None else ["--minutes", str(value.minutes)]
        elif dataclasses.is_dataclass(hint):
            out += argv(value, hint, default if default is not MISSING else None)
        elif value != default or default is MISSING or (defaults is not None and f.default is MISSING):
            if hint is bool:
                out.append(_flag(f.name) if value else "--no-" + f.name.replace("_", "-"))
            elif value is not None:
                out += [_flag(f.name), str(value)]
    return out
