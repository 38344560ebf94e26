"""MkDocs hook: docstrings write array shapes as `[layers][heads][T][T]`, which Markdown reads as reference links
and mkdocs-autorefs reports as missing targets; a target that is no dotted Python name is such a shape, so its
warning is dropped (a missing `[pkg.module.name][]` reference still fails the strict build)."""

import logging
import re

SHAPE = re.compile(r"Could not find cross-reference target '([^'.]+)'")


class _Shapes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not SHAPE.search(record.getMessage())


def on_startup(command, dirty):
    for module in ("plugin", "references"):  # the loggers mkdocs-autorefs reports from
        name = f"mkdocs.plugins.mkdocs_autorefs._internal.{module}"
        logging.getLogger(name).addFilter(_Shapes())
