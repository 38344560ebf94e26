"""The one reader of `hf:` data sets, for every loader that takes them (corpus, corpus.parallel, classify.data).

    from corpus import hub
    hub.load_hf("hf:opus_books:en-es")        # datasets.load_dataset("opus_books", "en-es", split="train")
    hub.load_hf("hf:json:pairs.jsonl")        # a local JSON Lines / JSON file: load_dataset("json", data_files=...)
    hub.load_hf("hf:csv:reviews.csv", split="test")
    hub.load_hf("hf:runs/saved")              # a folder written by Dataset.save_to_disk: load_from_disk
    hub.texts("hf:wikitext:wikitext-103-raw-v1", streaming=True)   # its text column, row by row, streamed
    hub.column(ds, "label", "hf:imdb")        # the column, or an error naming the columns there are

Specs: `hf:NAME[:CONFIG]` (a Hub data set, or a local folder of data files), `hf:BUILDER:FILE` for the file
builders json, csv, text and parquet, `hf:FOLDER` for a save_to_disk folder. Every problem (a malformed spec, a
missing file, an unreachable or unknown set, a missing split or column) is a corpus.CorpusError naming the spec.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from corpus import CorpusError

FILE_BUILDERS = ("json", "csv", "text", "parquet")
SPECS = "hf:NAME[:CONFIG], hf:json:FILE, hf:csv:FILE (or text, parquet) or hf:FOLDER"


def parse(spec: str) -> tuple[str, str | None]:
    """(name, config or data file) of an hf: spec; a malformed one is refused before datasets is imported (a file
    builder without a file would read every file of the working directory)."""
    if not spec.startswith("hf:") or not spec[3:].strip():
        raise CorpusError(f"bad hf: spec {spec!r}: expected {SPECS}")
    name, _, config = spec[3:].partition(":")
    if name in FILE_BUILDERS:
        if not config.strip():
            raise CorpusError(f"bad hf: spec {spec!r}: hf:{name}: needs a file, as in hf:{name}:path/to/data.{name}")
        if not os.path.exists(config) and not any(c in config for c in "*?["):
            raise CorpusError(f"could not load data set {spec!r}: no such file {config!r}")
    elif not name or ":" in config:
        raise CorpusError(f"bad hf: spec {spec!r}: expected {SPECS}")
    return name, config or None


def load_hf(spec: str, split: str | None = None, streaming: bool = False):
    """The `split` (default train) of an hf: spec: a datasets.Dataset, or with `streaming` an IterableDataset that
    reads its rows as they are iterated, never downloading or holding the set whole (a save_to_disk folder is
    memory-mapped either way)."""
    name, config = parse(spec)
    split = split or "train"
    import datasets  # heavy: only for hf: sets

    marks = ("state.json", "dataset_dict.json")  # what save_to_disk writes for a Dataset, a DatasetDict
    saved = os.path.isdir(name) and any(os.path.exists(os.path.join(name, m)) for m in marks)
    with errors(spec, split):
        if saved:
            ds = datasets.load_from_disk(name)
            if isinstance(ds, datasets.DatasetDict):
                if split not in ds:
                    raise CorpusError(f"data set {spec!r} has no split {split!r}: it has {sorted(ds)}")
                ds = ds[split]  # else one saved Dataset: the only split there is
            return ds.to_iterable_dataset() if streaming else ds
        if name in FILE_BUILDERS:
            return datasets.load_dataset(name, data_files=config, split=split, streaming=streaming)
        return datasets.load_dataset(name, config, split=split, streaming=streaming)


def texts(spec: str, split: str | None = None, streaming: bool = False, batch: int = 1000) -> Iterator[str]:
    """The values of an hf: set's `text` column (else its first), row by row, read in batches of rows: streamed
    (`streaming`), or from the Arrow file the datasets cache maps."""
    ds = load_hf(spec, split, streaming)
    with errors(spec, split or "train"):
        names = ds.column_names
        if names is None:  # a stream whose features are not declared: its first row names them
            names = list(next(iter(ds), {}))
        if not names:
            return
        column = "text" if "text" in names else names[0]
        for rows in ds.select_columns([column]).iter(batch_size=batch):
            for text in rows[column]:
                yield str(text)


@contextlib.contextmanager
def errors(spec: str, split: str):
    """datasets' many exception types as one CorpusError naming the spec and the reason (a streamed set raises
    them while it is read, not only when it is opened)."""
    try:
        yield
    except CorpusError:
        raise
    except ValueError as e:
        if "split" in str(e).lower():
            raise CorpusError(f"data set {spec!r} has no split {split!r}: {e}") from None
        raise CorpusError(f"could not load data set {spec!r}: {e}") from None
    except ConnectionError as e:  # offline, or the Hub is down: say which, not just "not found"
        raise CorpusError(f"could not load data set {spec!r}: the Hugging Face Hub is unreachable ({e})") from None
    except Exception as e:  # datasets raises many types; the user needs the spec and the reason
        raise CorpusError(f"could not load data set {spec!r}: {type(e).__name__}: {e}") from None


def column(ds, name: str, spec: str):
    """The values of column `name` of `ds` (loaded from `spec`), or a CorpusError listing its columns."""
    if name not in ds.column_names:
        raise CorpusError(f"data set {spec!r} has no column {name!r}: its columns are {ds.column_names}")
    return ds[name]
