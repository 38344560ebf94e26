"""pretrain.prepare: a corpus read as a stream into token shards, and pretrain.train --data training on them.

Real files, real tokenizers, a real (tiny) training run; the corpora are a few hundred kB written to tmp_path.
"""

import json
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
TINY = ["--layers", "1", "--dim", "32", "--heads", "2", "--seq-len", "32", "--batch-size", "8"]
WORDS = "cow sheep barn hay field ship wave sail fish tide sword shield king spear army".split()
WORDS += [a + b for a in ("ka", "lo", "mi", "ne", "su", "to") for b in ("ran", "vel", "dor", "pik", "sum")]
ARRAYS = ("tokens", "sentences", "documents", "sources")


def paragraphs(n: int, seed: int = 0, lines: int = 6) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    return [[f"the {' '.join(rng.choice(WORDS, 7))} ." for _ in range(lines)] for _ in range(n)]


def write_text(path, paras) -> str:
    path.write_text("".join("\n".join(p) + "\n\n" for p in paras))
    return str(path)


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    """1,500 paragraphs, so 30 groups of 50 (corpus.load's rule for a plain file)."""
    return write_text(tmp_path_factory.mktemp("text") / "c.txt", paragraphs(1500))


@pytest.fixture(scope="module")
def prepared(text_file, tmp_path_factory):
    from pretrain import prepare

    out = str(tmp_path_factory.mktemp("prepared") / "data")
    assert prepare.main(["--corpus", text_file, "--vocab", "120", "--out", out]) == 0
    return out


def shards(folder: str) -> list[dict]:
    from pretrain import data

    return [{k: getattr(s, k) for k in ARRAYS} for s in data.open_shards(folder)]


def assert_same_shards(a: str, b: str) -> None:
    got, want = shards(a), shards(b)
    assert len(got) == len(want) > 0
    for g, w in zip(got, want):
        for k in ARRAYS:
            np.testing.assert_array_equal(g[k], w[k], err_msg=k)


def test_a_text_file_is_prepared_with_its_manifest_and_a_split_by_the_hash_of_each_group(prepared, text_file, capsys):
    from pretrain import data, prepare, vocab

    manifest = json.load(open(os.path.join(prepared, "manifest.json")))
    assert sorted(os.listdir(prepared)) == ["manifest.json", "train", "val", "vocab.txt"]
    tokens = vocab.read_vocab(prepared)
    assert manifest["vocab"] == vocab.fingerprint(tokens) and manifest["vocab_size"] == len(tokens) == 120
    held = [g for g in range(30) if prepare.held_out(f"c.txt#{g}")]
    assert manifest["val"]["documents"] == 50 * len(held) and manifest["train"]["documents"] == 1500 - 50 * len(held)
    for name in ("train", "val"):  # what the manifest says is what the shards hold
        assert manifest[name]["tokens"] == sum(len(s["tokens"]) for s in shards(os.path.join(prepared, name)))
    assert manifest["bytes"] == os.path.getsize(text_file)
    # every sentence arrived, once, in the vocabulary's tokens
    tok = vocab.make_tokenizer(tokens)
    lines = [s for p in paragraphs(1500) for s in p]
    assert manifest["train"]["tokens"] + manifest["val"]["tokens"] == sum(
        len(e.ids) for e in tok.encode_batch(lines, add_special_tokens=False)
    )
    assert data.open_shards(os.path.join(prepared, "val"))[0].sources.tolist() == [0] * manifest["val"]["documents"]


def test_the_vocabulary_is_learnt_from_training_text_only(tmp_path):
    """A word only the held-out groups use stays out of a vocabulary learnt from the stream."""
    from pretrain import prepare, vocab

    paras = paragraphs(1000)
    for i, p in enumerate(paras):
        if prepare.held_out(f"c.txt#{i // 50}"):
            p[:] = [s.replace("the", "xylophone") for s in p]
    out = str(tmp_path / "d")
    assert prepare.main(["--corpus", write_text(tmp_path / "c.txt", paras), "--vocab", "200", "--out", out]) == 0
    assert "cow" in vocab.read_vocab(out) and "xylophone" not in vocab.read_vocab(out)


def test_the_one_command_form_builds_the_same_shards(prepared, text_file, tmp_path):
    from pretrain import train, vocab

    folder = train.prepare_data(text_file, vocab.read_vocab(prepared), str(tmp_path / "work"))
    for name in ("train", "val"):
        assert_same_shards(os.path.join(folder, name), os.path.join(prepared, name))
    assert open(os.path.join(folder, "vocab.txt")).read() == open(os.path.join(prepared, "vocab.txt")).read()


@pytest.mark.parametrize("some_hash_in", [True, False])
def test_an_hf_json_file_is_streamed_row_by_row(prepared, text_file, tmp_path, some_hash_in):
    """hf:json:FILE streamed by datasets, rows joined as lines (corpus.load's rule): the same text as the file,
    so the same tokens; only the groups' names (and so which are held out) differ. Read through the datasets
    cache instead of streamed, it gives the same shards. The file's path names the groups: one name has some
    group hash into the held-out share, the other none, so the lowest group is held out instead."""
    from pretrain import prepare

    def held(rows):
        return [g for g in range(30) if prepare.held_out(f"hf:json:{rows}#{g}")]

    rows = next(p for i in range(10_000) if bool(held(p := tmp_path / f"rows{i}.jsonl")) == some_hash_in)
    with open(rows, "w") as f:
        for line in open(text_file).read().split("\n")[:-1]:
            f.write(json.dumps({"id": 1, "text": line}) + "\n")
    out = str(tmp_path / "d")
    assert prepare.main(["--corpus", f"hf:json:{rows}", "--vocab", prepared, "--out", out]) == 0
    got, want = (json.load(open(os.path.join(d, "manifest.json"))) for d in (out, prepared))
    assert got["vocab"] == want["vocab"] and got["corpora"] == [f"hf:json:{rows}"]
    assert got["val"]["documents"] == 50 * max(1, len(held(rows)))
    assert ("held_out_group" in got) == (not some_hash_in)
    assert sum(got[s]["tokens"] for s in ("train", "val")) == sum(want[s]["tokens"] for s in ("train", "val"))
    cached = str(tmp_path / "cached")
    config = prepare.PrepareConfig(corpus=f"hf:json:{rows}", vocab=prepared, out=cached)
    assert {**prepare.prepare(config, streaming=False), "seconds": 0} == {**got, "seconds": 0}
    for name in ("train", "val"):
        assert_same_shards(os.path.join(out, name), os.path.join(cached, name))


def test_a_stream_larger_than_the_shuffle_buffer(tmp_path, prepared):
    """The buffer holds at most its size (plus the document that came in); every document reaches a shard once,
    shuffled by the seed: the same seed, the same shards."""
    from pretrain import data, vocab

    tok = vocab.make_tokenizer(vocab.read_vocab(prepared))
    docs = paragraphs(400, seed=5)
    writer = data.ShardWriter(str(tmp_path / "a"), tok, seed=1, shard_tokens=2000, shuffle_chars=5000)
    with writer:
        for d in docs:
            writer.add(d)
            assert writer.held <= 5000 + sum(len(s) for s in d)
    assert writer.shards > 5 and writer.documents == 400
    for seed, name in ((1, "b"), (2, "c")):
        data.write_shards(docs, tok, str(tmp_path / name), seed=seed, shard_tokens=2000, shuffle_chars=5000)
    assert_same_shards(str(tmp_path / "a"), str(tmp_path / "b"))

    def documents(folder):
        out = []
        for s in data.open_shards(folder):
            starts = s.sentences[s.documents]
            out += [tuple(s.tokens[a:b]) for a, b in zip(starts[:-1], starts[1:])]
        return out

    got, other = documents(str(tmp_path / "a")), documents(str(tmp_path / "c"))
    want = [tuple(np.concatenate([tok.encode(s, add_special_tokens=False).ids for s in d])) for d in docs]
    assert sorted(got) == sorted(want) == sorted(other) and got != want and got != other


def test_a_mix_interleaves_its_corpora_and_caps_the_larger(tmp_path, prepared):
    from pretrain import data, prepare

    small = write_text(tmp_path / "small.txt", paragraphs(300, seed=1))
    large = write_text(tmp_path / "large.txt", paragraphs(1500, seed=2))
    out = str(tmp_path / "d")
    argv = ["--corpus", f"{small},{large}", "--vocab", prepared, "--shard-tokens", "3000", "--corpus-cap", "0.5"]
    assert prepare.main([*argv, "--out", out]) == 0
    train = data.open_shards(os.path.join(out, "train"))
    assert len(train) > 3 and all(set(s.sources.tolist()) == {0, 1} for s in train[:-1])  # each shard mixes
    kept = [int(np.sum(np.concatenate([s.sources for s in train]) == k)) for k in (0, 1)]
    assert kept[1] == pytest.approx(kept[0], rel=0.1)  # the larger corpus cut to the smaller's size
    assert prepare.read_manifest(out)["corpus_cap"] == 0.5


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--corpus", "/no/such/file.txt"], "not found"),
        (["--corpus", "hf:json:/no/such.jsonl"], "no such file"),
        (["--vocab", "/no/such/vocab"], "not found"),
        (["--vocab", "10"], "too small"),
        (["--corpus-cap", "2"], "--corpus-cap must be a share"),
    ],
)
def test_bad_input_is_one_clear_line_and_writes_nothing(argv, message, text_file, tmp_path, capsys):
    from pretrain import prepare

    args = {"--corpus": text_file, "--vocab": "200", "--out": str(tmp_path / "d")}
    args.update(zip(argv[::2], argv[1::2]))
    assert prepare.main([x for kv in args.items() for x in kv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error:") and message in err[-1], err
    assert os.listdir(tmp_path) == []  # no output, no temporary folder left


def test_out_that_is_not_a_prepared_folder_is_left_alone(text_file, tmp_path, capsys):
    from pretrain import prepare

    (tmp_path / "mine.txt").write_text("keep me")
    assert prepare.main(["--corpus", text_file, "--vocab", "200", "--out", str(tmp_path)]) == 2
    assert "not a prepared data folder" in capsys.readouterr().err and os.listdir(tmp_path) == ["mine.txt"]


@pytest.mark.slow  # two short pretraining runs
def test_train_on_prepared_data_and_refuse_other_data_or_vocabulary(prepared, text_file, tmp_path, capsys):
    from pretrain import prepare, train

    out = str(tmp_path / "run")
    base = ["--out", out, "--steps", "2", "--checkpoint-every", "2", *TINY]
    assert train.main(["--data", prepared, *base]) == 0
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    assert metrics["steps"] == 2 and metrics["corpus"] == text_file
    assert not os.path.exists(os.path.join(out, "work", "data"))  # nothing prepared again in --out
    other = str(tmp_path / "other")
    assert prepare.main(["--corpus", text_file, "--vocab", "100", "--out", other]) == 0
    capsys.readouterr()
    # a resume on data prepared with another vocabulary: refused by name
    assert train.main(["--data", other, *base[:3], "4", *base[4:]]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error:") and "--vocab 120 tokens" in err, err
    # a --vocab beside --data must be the data's
    assert train.main(["--data", prepared, "--vocab", other, *base]) == 2
    assert "is not the vocabulary --data" in capsys.readouterr().err
    for bad, message in (([], "give --corpus"), (["--data", str(tmp_path)], "holds no manifest.json")):
        assert train.main([*bad, *base]) == 2
        assert message in capsys.readouterr().err


def test_the_command_never_imports_tensorflow_or_keras(prepared, tmp_path):
    """The real command in a fresh interpreter: an hf: set streamed through datasets, and no deep-learning
    framework imported (they would cost seconds and hundreds of MB of start-up)."""
    import subprocess
    import sys

    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"text": "\n".join(p) + "\n"}) + "\n" for p in paragraphs(500, lines=3)))
    cmd = [sys.executable, "-X", "importtime", "-m", "pretrain.prepare", "--corpus", f"hf:json:{rows}"]
    done = subprocess.run([*cmd, "--vocab", prepared, "--out", str(tmp_path / "d")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "tokenizers" in imported and "datasets" in imported
    assert not {m for m in imported if m.split(".")[0] in ("tensorflow", "keras", "jax", "torch")}
    assert json.loads(done.stdout.strip().splitlines()[-1])["train"]["documents"] > 0
