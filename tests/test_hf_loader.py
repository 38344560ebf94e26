"""corpus.hub: the one hf: reader behind corpus.load, corpus.parallel.load_pairs and classify.data.load, on small
local files read by the real datasets.load_dataset."""

import json
import subprocess
import sys

import pytest

import corpus
from classify import data as labelled
from corpus import hub, parallel
from tests.helpers import ENV, ROOT

LOADERS = (corpus.load, parallel.load_pairs, labelled.load)


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return f"hf:json:{path}"


def test_each_loader_reads_a_local_json_lines_file(tmp_path):
    rows = [{"text": f"line {i}", "label": "pos" if i % 2 else "neg"} for i in range(6)]
    spec = _jsonl(tmp_path / "labelled.jsonl", rows)
    docs = corpus.load(spec)  # its text column, one line a row (no blank lines: one paragraph)
    assert [(d.text, d.group) for d in docs] == [("".join(f"line {i}\n" for i in range(6)), f"{spec}#0")]
    texts, labels, names = labelled.load(spec)
    assert texts == [r["text"] for r in rows] and names == ("neg", "pos") and labels.tolist() == [0, 1] * 3
    pairs_spec = _jsonl(tmp_path / "pairs.jsonl", [{"source": f"house {i}", "target": f"casa {i}"} for i in range(3)])
    pairs = parallel.load_pairs(pairs_spec)
    assert [(p.source, p.target, p.key) for p in pairs] == [
        (f"house {i}", f"casa {i}", f"{pairs_spec}#{i}") for i in range(3)
    ]


def test_a_csv_file_and_a_named_split(tmp_path):
    csv = tmp_path / "reviews.csv"
    csv.write_text("text,label\ngood film,1\nbad film,0\nfine film,1\n", encoding="utf-8")
    texts, labels, names = labelled.load(f"hf:csv:{csv}")
    assert texts == ["good film", "bad film", "fine film"] and labels.tolist() == [1, 0, 1] and names == ("0", "1")
    assert hub.load_hf(f"hf:csv:{csv}", split="train").num_rows == 3
    with pytest.raises(corpus.CorpusError, match=r"has no split 'validation'.*train"):
        hub.load_hf(f"hf:csv:{csv}", split="validation")


def test_a_save_to_disk_folder_and_its_splits(tmp_path):
    import datasets

    folder = tmp_path / "saved"
    train = datasets.Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]})
    datasets.DatasetDict({"train": train, "test": train.select([0])}).save_to_disk(str(folder))
    assert hub.load_hf(f"hf:{folder}", split="test").num_rows == 1
    assert labelled.load(f"hf:{folder}")[0] == ["a", "b"]
    with pytest.raises(corpus.CorpusError, match=r"has no split 'validation': it has \['test', 'train'\]"):
        hub.load_hf(f"hf:{folder}", split="validation")


@pytest.mark.parametrize(
    "spec, message",
    [
        ("hf:", r"bad hf: spec 'hf:': expected hf:NAME\[:CONFIG\], hf:json:FILE"),
        ("hf:json", r"bad hf: spec 'hf:json': hf:json: needs a file, as in hf:json:path/to/data.json"),
        ("hf:csv:", r"bad hf: spec 'hf:csv:': hf:csv: needs a file"),
        ("hf:opus_books:en-es:extra", r"bad hf: spec 'hf:opus_books:en-es:extra': expected hf:NAME"),
        ("hf:json:no/such/file.jsonl", r"could not load data set 'hf:json:no/such/file.jsonl': no such file"),
    ],
)
def test_a_bad_spec_gives_every_loader_the_same_error(spec, message):
    for load in LOADERS:
        with pytest.raises(corpus.CorpusError, match=message):
            load(spec)


def test_a_missing_column_is_named(tmp_path):
    spec = _jsonl(tmp_path / "unlabelled.jsonl", [{"text": "one"}, {"text": "two"}])
    with pytest.raises(corpus.CorpusError, match=r"has no column 'label': its columns are \['text'\]"):
        labelled.load(spec)
    with pytest.raises(corpus.CorpusError, match=r"name two of its columns \['text'\]"):
        parallel.load_pairs(spec)


def test_an_unreachable_hub_is_said_so():
    code = "from corpus import hub\ntry:\n    hub.load_hf('hf:seqlab-test/no-such-set')\nexcept ValueError as e:\n"
    code += "    print(e)"  # a CorpusError is a ValueError
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert "could not load data set 'hf:seqlab-test/no-such-set': the Hugging Face Hub is unreachable" in done.stdout
