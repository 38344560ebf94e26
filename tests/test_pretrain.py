"""pretrain/: vocab, pairs, masking, model, training (resume after SIGKILL), evaluate, export, load API.

Everything is real (no mocks) and tiny: synthetic documents written to tmp_path, L1/H32 models. Tests that train
in a subprocess or for long are marked slow (`pytest -m "not slow"` skips them).
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from core.budget import Budget
from tests.helpers import run_here

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--layers", "1", "--dim", "32", "--heads", "2", "--seq-len", "32", "--batch-size", "8"]

WORDS = {
    "farm": "cow sheep barn hay field plough milk goat".split(),
    "sea": "ship wave sail fish tide anchor shore net".split(),
    "war": "sword shield king spear battle army horse camp".split(),
}


def make_documents(n_docs=30, n_sentences=12, seed=0):
    """Documents of short sentences drawn from a topic vocabulary: learnable MLM, distinct topics per document."""
    rng = np.random.default_rng(seed)
    topics = list(WORDS)
    docs = []
    for d in range(n_docs):
        words = WORDS[topics[d % len(topics)]]
        docs.append(
            [
                f"the {rng.choice(words)} and the {rng.choice(words)} by the {rng.choice(words)} ."
                for _ in range(n_sentences)
            ]
        )
    return docs


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    for i, doc in enumerate(make_documents()):
        (folder / f"doc{i:02d}.txt").write_text("\n".join(doc) + "\n")
    return str(folder)


@pytest.fixture(scope="module")
def vocab_dir(corpus_dir, tmp_path_factory):
    from pretrain import vocab

    out = str(tmp_path_factory.mktemp("vocab"))
    assert vocab.main(["--corpus", corpus_dir, "--size", "120", "--out", out]) == 0
    return out


@pytest.fixture(scope="module")
def trained(corpus_dir, vocab_dir, tmp_path_factory):
    """A real (tiny) training run, done in-process once for the tests that need a trained model."""
    from pretrain import train

    out = str(tmp_path_factory.mktemp("model"))
    args = [
        "--corpus",
        corpus_dir,
        "--vocab",
        vocab_dir,
        "--out",
        out,
        "--steps",
        "60",
        "--lr",
        "3e-3",
        "--warmup",
        "5",
        "--checkpoint-every",
        "30",
        "--dropout",
        "0",
    ] + TINY
    assert train.main(args) == 0
    return out


def saved_state(out: str) -> dict:
    """The state.json of a run's latest checkpoint, as core.trainer writes it (OUT/checkpoint-N)."""
    from core import checkpoint

    return checkpoint.read_state(checkpoint.latest(out))


def column(rows: list[dict], key: str) -> list:
    return [row[key] for row in rows if key in row]


def validations(state: dict) -> list[dict]:
    """The history rows that hold a validation."""
    return [row for row in state["history"] if "val_mlm_loss" in row]


TRAIN_KEYS = ("train_mlm_loss", "train_mlm_accuracy", "train_nsp_loss", "train_nsp_accuracy")
VAL_KEYS = ("val_mlm_loss", "val_mlm_accuracy", "val_nsp_loss", "val_nsp_accuracy")


@pytest.fixture(scope="module")
def bert(trained):
    import pretrain

    return pretrain.load(trained)


# -------------------------------------------------------------------------------------------------- vocab
def test_vocab_has_bert_specials_and_loads_identically_in_keras_hub_and_transformers(vocab_dir):
    import keras_hub
    import transformers

    from pretrain import vocab

    path = os.path.join(vocab_dir, "vocab.txt")
    tokens = open(path).read().splitlines()
    assert tokens[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] and len(tokens) == 120
    text = "The Cow, and the SHIP by the sword; unknown-words zebra! Café"
    ours = vocab.make_tokenizer(tokens).encode(text, add_special_tokens=False).ids
    hub = keras_hub.tokenizers.WordPieceTokenizer(vocabulary=path, lowercase=True, strip_accents=True)
    hf = transformers.BertTokenizer.from_pretrained(vocab_dir)  # (vocab_file=... gives a 5-token vocab in v5)
    assert [int(i) for i in np.asarray(hub(text))] == ours
    assert hf.encode(text, add_special_tokens=False) == ours
    assert ours.count(1) < len(ours)  # mostly known tokens


def test_vocab_without_mask_is_refused(tmp_path, corpus_dir):
    from pretrain import train

    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\n")
    with pytest.raises(ValueError, match=r"\[MASK\]"):
        from pretrain.vocab import read_vocab

        read_vocab(str(tmp_path))
    assert (
        train.main(["--corpus", corpus_dir, "--vocab", str(tmp_path), "--out", str(tmp_path / "o"), "--steps", "1"])
        == 2
    )


# ------------------------------------------------------------------------------------------------ NSP pairs
def test_pairs_isnext_consecutive_notnext_other_document(tmp_path, vocab_dir):
    from pretrain import data, vocab

    tok = vocab.make_tokenizer(vocab.read_vocab(vocab_dir))
    docs = make_documents(n_docs=60, n_sentences=15, seed=1)
    data.write_shards(docs, tok, str(tmp_path / "s"), seed=0)
    shard = data.open_shards(str(tmp_path / "s"))[0]
    rows = data.make_pairs(shard, 32, np.random.default_rng(0))
    assert len(rows) > 200
    starts = set(shard.sentences.tolist())
    assert set(rows[:, 5]) == {data.NEXT, data.OTHER_DOC}  # BERT's rule: no same-document negatives
    for a0, a1, b0, b1, label, _ in rows:
        assert 0 < a1 - a0 and 0 < b1 - b0 and (a1 - a0) + (b1 - b0) <= 32 - 3
        if label == data.IS_NEXT:  # B starts exactly where A ends, in the same document
            assert a1 == b0 and shard.doc_of_token(a0) == shard.doc_of_token(b1 - 1)
            assert b0 in starts  # the join is a sentence boundary
        else:
            assert shard.doc_of_token(b0) != shard.doc_of_token(a0)
    assert 0.4 < (rows[:, 4] == data.NOT_NEXT).mean() < 0.6
    ids, seg = data.pack(shard.tokens, rows[:4], 32, cls=2, sep=3)
    la, lb = rows[0, 1] - rows[0, 0], rows[0, 3] - rows[0, 2]
    assert ids[0, 0] == 2 and ids[0, 1 + la] == 3 and ids[0, 2 + la + lb] == 3 and not ids[0, 3 + la + lb :].any()
    assert seg[0, : 2 + la].sum() == 0 and seg[0, 2 + la : 3 + la + lb].all() and not seg[0, 3 + la + lb :].any()


def test_the_processes_parts_of_a_batch_make_the_one_process_batch(tmp_path, vocab_dir):
    """Multi-process data parallel: each process builds its own rows of a global batch (and of the fixed
    validation batches); together they are, array for array, the batch one process builds."""
    from pretrain import data, vocab

    tok = vocab.make_tokenizer(vocab.read_vocab(vocab_dir))
    data.write_shards(make_documents(n_docs=40, seed=2), tok, str(tmp_path / "s"), seed=0)
    args = (str(tmp_path / "s"), 32, 8, len(tok.get_vocab()), 0.15, 6, 0)
    whole = data.Batches(*args)
    parts = [data.Batches(*args, part=(i, 4)) for i in range(4)]
    for step in (0, 7, 123):  # 123: a later epoch
        expected, got = whole.at(step), [p.at(step) for p in parts]
        assert all(len(g[0]["token_ids"]) == 2 for g in got)
        for which in range(3):
            for key in expected[which]:
                joined = np.concatenate([g[which][key] for g in got])
                np.testing.assert_array_equal(joined, expected[which][key], err_msg=f"step {step} {key}")
    fixed = [p.fixed(3) for p in parts]
    for k, batch in enumerate(whole.fixed(3)):
        joined = np.concatenate([f[k][0]["token_ids"] for f in fixed])
        np.testing.assert_array_equal(joined, batch[0]["token_ids"])
    with pytest.raises(ValueError, match="a batch of 8 has no part 0 of 3 equal parts"):
        data.Batches(*args, part=(0, 3))


def test_same_corpus_negatives_come_from_the_corpus_of_a(tmp_path, vocab_dir):
    """--nsp-negatives same-corpus on a mix: every other-document B comes from A's own corpus (BERT's rule pairs
    across corpora about as often as the mix's shares say); IsNext pairs and the draws' share are as before."""
    from pretrain import data, vocab

    tok = vocab.make_tokenizer(vocab.read_vocab(vocab_dir))
    docs = make_documents(n_docs=60, n_sentences=15, seed=3)
    sources = [d % 3 == 0 for d in range(60)]  # a third of the documents (the farm ones) are a second corpus
    data.write_shards(docs, tok, str(tmp_path / "s"), seed=0, sources=[int(x) for x in sources])
    shard = data.open_shards(str(tmp_path / "s"))[0]
    assert sorted(shard.sources.tolist()) == sorted(int(x) for x in sources)

    def crossing(rows):
        other = rows[rows[:, 5] == data.OTHER_DOC]
        assert len(other) > 50
        return np.mean(
            [shard.sources[shard.doc_of_token(a0)] != shard.sources[shard.doc_of_token(b0)] for a0, _, b0, *_ in other]
        )

    bert_rule = data.make_pairs(shard, 32, np.random.default_rng(0))
    same = data.make_pairs(shard, 32, np.random.default_rng(0), same_source=True)
    assert crossing(bert_rule) > 0.3 and crossing(same) == 0
    assert 0.4 < (same[:, 4] == data.NOT_NEXT).mean() < 0.6
    assert all(shard.doc_of_token(b0) != shard.doc_of_token(a0) for a0, _, b0, *_ in same[same[:, 5] == data.OTHER_DOC])


def test_a_corpus_cap_bounds_each_corpus_share_of_the_training_text():
    from pretrain.prepare import Document, cap_shares, capped

    docs = [Document(["x" * 100], f"a{i}", 100, source=0) for i in range(30)] + [
        Document(["y" * 100], f"b{i}", 100, source=1) for i in range(10)
    ]
    assert cap_shares([3000, 1000], None) == [1, 1]  # by default each corpus weighs by its size: 75% / 25%
    kept = list(capped(docs, cap_shares([3000, 1000], 0.5)))
    share = sum(d.chars for d in kept if d.group.startswith("a")) / sum(d.chars for d in kept)
    assert share == pytest.approx(0.5, abs=0.03) and sum(d.group.startswith("b") for d in kept) == 10
    assert list(capped(docs, cap_shares([3000, 1000], 0.5))) == kept  # the same subset every time


@pytest.mark.parametrize("share", [1.0, 0.3])
def test_same_document_negatives_come_from_a_and_never_are_the_next_sentence(tmp_path, vocab_dir, share):
    """--nsp-negatives same-doc / mix:R: B from A's own document, at least `distance` sentences from the true next
    one (after it, or wholly before A), never overlapping A; the share of same-document negatives is R."""
    from pretrain import data, vocab

    tok = vocab.make_tokenizer(vocab.read_vocab(vocab_dir))
    docs = make_documents(n_docs=60, n_sentences=30, seed=2)
    data.write_shards(docs, tok, str(tmp_path / "s"), seed=0)
    shard = data.open_shards(str(tmp_path / "s"))[0]
    rows = data.make_pairs(shard, 32, np.random.default_rng(0), same_doc=share, distance=4)
    sentence = {int(t): i for i, t in enumerate(shard.sentences)}  # token offset of a sentence start -> its index
    negatives = rows[rows[:, 4] == data.NOT_NEXT]
    same = negatives[negatives[:, 5] == data.SAME_DOC]
    assert len(same) > 100
    for a0, a1, b0, b1, _, _ in same:
        assert shard.doc_of_token(b0) == shard.doc_of_token(a0) == shard.doc_of_token(b1 - 1)
        gap = sentence[int(b0)] - sentence[int(a1)]  # a1, where A ends, is the true next sentence's start
        assert gap >= 4 or (b1 <= a0 and -gap >= 4), (a0, a1, b0, b1)
    assert all(shard.doc_of_token(b0) != shard.doc_of_token(a0) for a0, _, b0, *_ in negatives[negatives[:, 5] == 1])
    assert abs(len(same) / len(negatives) - share) < 0.08  # documents of 30 sentences always have room
    assert 0.4 < len(negatives) / len(rows) < 0.6


def test_masking_statistics_and_specials_never_masked():
    from pretrain.data import mask_tokens

    rng = np.random.default_rng(0)
    ids = rng.integers(5, 1000, (4000, 64))
    ids[:, 0], ids[:, 30] = 2, 3  # [CLS], [SEP]
    lengths = rng.integers(35, 65, len(ids))
    ids[np.arange(64)[None, :] >= lengths[:, None]] = 0  # padding
    ids[:, 31] = 1  # [UNK] is special too
    out, pos, labels, w = mask_tokens(ids, np.random.default_rng(1), 1000, 0.15, max_predictions=20)
    chosen = w > 0
    rows = np.repeat(np.arange(len(ids))[:, None], pos.shape[1], 1)[chosen]
    p = pos[chosen]
    assert (ids[rows, p] >= 5).all()  # no [PAD]/[CLS]/[SEP]/[UNK]/[MASK] chosen
    assert (labels[chosen] == ids[rows, p]).all()
    eligible = (ids >= 5).sum(1)
    assert np.allclose(chosen.sum(1), np.minimum(20, np.maximum(1, np.rint(eligible * 0.15))))
    assert abs(chosen.sum() / eligible.sum() - 0.15) < 0.01
    new = out[rows, p]
    masked, same = (new == 4).mean(), (new == ids[rows, p]).mean()
    assert abs(masked - 0.8) < 0.02 and abs(same - 0.1) < 0.02 and abs(1 - masked - same - 0.1) < 0.02
    untouched = np.ones_like(ids, bool)
    untouched[rows, p] = False
    assert (out[untouched] == ids[untouched]).all()
    capped = mask_tokens(ids, np.random.default_rng(1), 1000, 0.9, max_predictions=5)[3]
    assert capped.shape == (4000, 5) and (capped.sum(1) == 5).all()
    again = mask_tokens(ids, np.random.default_rng(2), 1000)[1]
    assert (again != pos).any()  # dynamic: other draws, other masks


def test_specials_anywhere_in_the_vocabulary_are_never_masked_nor_drawn():
    """A vocabulary in Hugging Face's order ([CLS] = 101, [MASK] = 103) masks like one in pretrain.vocab's."""
    from pretrain.data import mask_tokens

    specials = [0, 100, 101, 102, 103]
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 500, (2000, 64))
    ids[:, 0], ids[:, 40] = 101, 102
    out, pos, labels, w = mask_tokens(ids, np.random.default_rng(1), 500, 0.5, 40, mask_id=103, special_ids=specials)
    chosen = w > 0
    rows = np.repeat(np.arange(len(ids))[:, None], pos.shape[1], 1)[chosen]
    assert not np.isin(ids[rows, pos[chosen]], specials).any()  # no special token is ever an MLM target
    replaced = out[rows, pos[chosen]]
    drawn = replaced[(replaced != 103) & (replaced != ids[rows, pos[chosen]])]
    assert len(drawn) > 1000 and not np.isin(drawn, specials).any()
    assert set(np.unique(ids[rows, pos[chosen]])) & {1, 2, 3, 4}  # ids 1-4 are plain words here


def test_a_document_that_tokenizes_to_nothing_is_skipped(vocab_dir, tmp_path):
    """A line of only zero-width characters survives str.strip() but not the normalizer."""
    from pretrain import data, vocab

    tok = vocab.make_tokenizer(vocab.read_vocab(vocab_dir))
    docs = make_documents(n_docs=3, n_sentences=4) + [["\u200b", "\ufeff\u00ad"]]
    out = str(tmp_path / "s")
    from core import files

    os.makedirs(os.path.join(files.temp_name(out), "shard-00000"))  # what a run killed while tokenizing leaves
    data.write_shards(docs, tok, out)
    shard = data.open_shards(out)[0]
    assert len(shard.documents) - 1 == 3
    for seed in range(20):  # NotNext sources are drawn at random: every draw must find sentences
        data.make_pairs(shard, 32, np.random.default_rng(seed))


# ------------------------------------------------------------------------------------------------ model
def small_model():
    from pretrain.model import BertConfig, build

    return build(
        BertConfig(
            vocab_size=50,
            num_layers=1,
            hidden_size=32,
            num_heads=2,
            intermediate_size=64,
            max_positions=64,
            dropout=0.0,
        )
    )


def example(n_real=10, length=16):
    rng = np.random.default_rng(0)
    ids = np.zeros((2, length), np.int32)
    ids[:, :n_real] = rng.integers(5, 50, (2, n_real))
    seg = np.zeros_like(ids)
    seg[:, 5:n_real] = 1
    return {
        "token_ids": ids,
        "segment_ids": seg,
        "padding_mask": (ids != 0).astype(np.int32),
        "mask_positions": np.array([[1, 3, 7], [2, 4, 9]], np.int32),
    }


def test_padding_is_never_attended():
    m = small_model()
    m.all_outputs = True
    x = example()
    y = dict(x, token_ids=x["token_ids"].copy(), segment_ids=x["segment_ids"].copy())
    y["token_ids"][:, 10:] = np.random.default_rng(1).integers(5, 50, (2, 6))  # garbage where padding is
    y["segment_ids"][:, 10:] = 1
    a, b = m(x), m(y)
    np.testing.assert_allclose(np.asarray(a["sequence"])[:, :10], np.asarray(b["sequence"])[:, :10], atol=1e-5)
    for k in ("mlm", "nsp", "pooled"):
        np.testing.assert_allclose(np.asarray(a[k]), np.asarray(b[k]), atol=1e-5)


def test_mlm_head_is_tied_to_the_input_embedding_and_only_scores_masked_positions():
    from keras import ops

    m = small_model()
    x = example()
    seq, _ = m.encode(x["token_ids"], x["segment_ids"], x["padding_mask"])
    logits = np.asarray(m(x)["mlm"])
    assert logits.shape == (2, 3, 50)  # [batch, predictions, vocab]: never [batch, length, vocab]
    h = np.take_along_axis(np.asarray(seq), x["mask_positions"][..., None], 1)
    h = np.asarray(m.mlm_norm(m.mlm_dense(ops.convert_to_tensor(h))))
    table = np.asarray(m.token_embedding.embeddings)
    np.testing.assert_allclose(logits, h @ table.T + np.asarray(m.mlm_bias), atol=1e-4)
    assert sum(tuple(v.shape) == (50, 32) for v in m.weights) == 1  # one matrix, used twice
    m.token_embedding.embeddings.assign(table * 2)
    assert not np.allclose(np.asarray(m(x)["mlm"]), logits)


def test_local_attention_init_points_each_head_at_its_neighbour():
    """At step 0 the head given offset d already attends to token i + d more than to any other (itself included)."""
    import keras

    from pretrain.model import BertConfig, build, local_attention_init

    keras.utils.set_random_seed(0)  # the other weights are random: a fixed draw keeps the test from flickering
    m = build(
        BertConfig(
            vocab_size=500,
            num_layers=2,
            hidden_size=64,
            num_heads=4,
            intermediate_size=128,
            max_positions=64,
            dropout=0.0,
        )
    )
    before = [np.asarray(w).copy() for w in m.blocks[1].weights]
    local_attention_init(m, offsets=(-2, -1, 1, 2), layers=[0])
    ids = np.random.default_rng(0).integers(5, 500, (4, 48)).astype("int32")
    x = m.embeddings_norm(
        m.token_embedding(ids) + m.segment_embedding(ids * 0) + m.position_embedding(m.token_embedding(ids))
    )
    _, scores = m.blocks[0]._self_attention_layer(x, x, return_attention_scores=True)
    scores = np.asarray(scores)  # [batch, head, query, key]
    for head, offset in enumerate((-2, -1, 1, 2)):
        # mean attention by relative position -4..4 (a random head gives ~1/48 to each)
        by_offset = {d: np.mean([scores[:, head, q, q + d] for q in range(4, 40)]) for d in range(-4, 5)}
        assert max(by_offset, key=by_offset.get) == offset and by_offset[offset] > 0.35, (head, by_offset)
        assert by_offset[offset] > by_offset[0] + 0.1, (head, by_offset)  # ±1 heads also see themselves a little
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(before, m.blocks[1].weights))  # layer 1 untouched


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    from pretrain import model as bert

    m = small_model()
    bert.save(m, str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.weights.h5"]
    again = bert.load(str(tmp_path))
    x = example()
    for k, v in m(x).items():
        np.testing.assert_array_equal(np.asarray(v), np.asarray(again(x)[k]))


# --------------------------------------------------------------------------------------------- training
@pytest.mark.slow  # the trained fixture: a 60-step pretraining run
def test_training_lowers_the_loss_and_writes_the_model_folder(trained):
    for name in ("config.json", "model.weights.h5", "vocab.txt", "metrics.json", "README.md", "loss_curve.png"):
        assert os.path.exists(os.path.join(trained, name)), name
    metrics = json.load(open(os.path.join(trained, "metrics.json")))
    assert metrics["steps"] == 60 and "--steps 60" in metrics["command"]
    state = saved_state(trained)
    assert os.path.isdir(os.path.join(trained, "checkpoint-60"))
    history = state["history"]  # 10-step means, and the validation at each checkpoint in the same rows
    assert set(history[0]) == {"step", "train_loss", *TRAIN_KEYS}
    assert column(history, "step") == list(range(10, 61, 10)) and column(validations(state), "step") == [30, 60]
    assert set(history[-1]) == {"step", "train_loss", *TRAIN_KEYS, *VAL_KEYS}
    assert {k: history[-1][f"val_{k}"] for k in ("mlm_loss", "mlm_accuracy", "nsp_loss", "nsp_accuracy")} == {
        k: metrics[k] for k in ("mlm_loss", "mlm_accuracy", "nsp_loss", "nsp_accuracy")
    }
    assert history[-1]["train_mlm_loss"] < history[0]["train_mlm_loss"] - 0.5
    assert metrics["mlm_loss"] < np.log(120) - 0.5  # well below chance on held-out documents
    card = open(os.path.join(trained, "README.md")).read()
    assert "Validation" in card and f"{metrics['mlm_accuracy']:.4f}" in card
    assert f'pretrain.load("{trained}")' in card  # the card's own snippet loads this model, not a bundled one
    from pretrain.card import _load_name

    assert _load_name(os.path.join(ROOT, "pretrain", "models", "bert")) == "bert"  # bundled: its short name


@pytest.mark.slow  # the trained fixture: a 60-step pretraining run
def test_training_curve_does_not_depend_on_how_often_it_validates(trained, corpus_dir, vocab_dir, tmp_path):
    """Validation must not leak its batches into the next training windows of the curve."""
    from pretrain import train

    out = str(tmp_path / "rare")
    args = [
        "--corpus",
        corpus_dir,
        "--vocab",
        vocab_dir,
        "--out",
        out,
        "--steps",
        "60",
        "--lr",
        "3e-3",
        "--warmup",
        "5",
        "--checkpoint-every",
        "1000",
        "--dropout",
        "0",
    ] + TINY
    assert train.main(args) == 0
    rare, often = saved_state(out)["history"], saved_state(trained)["history"]
    assert column(rare, "step") == column(often, "step")
    assert np.allclose(column(rare, "val_mlm_loss"), column(often, "val_mlm_loss")[-1:], atol=1e-4)  # at 60 only
    for key in TRAIN_KEYS:
        assert np.allclose(column(rare, key), column(often, key), atol=1e-5), (key, rare, often)


def test_held_out_documents_do_not_depend_on_the_seed(corpus_dir, vocab_dir, tmp_path):
    from pretrain import data, train, vocab

    tokens = vocab.read_vocab(vocab_dir)
    held = []
    for seed in (0, 1):
        folder = train.prepare_data(corpus_dir, tokens, str(tmp_path / f"seed{seed}"), seed=seed)
        held.append(sorted(data.open_shards(os.path.join(folder, "val"))[0].tokens.tolist()))
    assert held[0] == held[1]


@pytest.mark.slow  # the trained fixture: a 60-step pretraining run
def test_card_carries_every_fact_and_a_note_for_what_the_command_does_not_say(trained, tmp_path):
    from huggingface_hub import ModelCard

    from core.card import loss_curve
    from pretrain import card
    from pretrain import model as bert

    metrics = json.load(open(os.path.join(trained, "metrics.json")))
    state = saved_state(trained)
    assert loss_curve(state["history"], str(tmp_path / "loss_curve.png"), card.CURVES)
    card.make(
        str(tmp_path), {**metrics, "note": "trained on one H100"}, state["commands"], bert.BertConfig.load(trained)
    ).write(str(tmp_path))
    text = (tmp_path / "README.md").read_text()
    assert f"```\n{metrics['command']}\n```\n\nNote: trained on one H100" in text
    for fact in (
        "| Corpus | `",
        "(batch 8, sequence 32)",
        "| Parameters | ",
        "`python -m pretrain.vocab --corpus",
        "| Initial attention | `local`",
        "| Masking | 15% of the tokens",
        "## Validation (held-out",
        f"| {metrics['mlm_accuracy']:.4f} | {metrics['mlm_loss']:.4f} |",
        "![loss curve](loss_curve.png)",
        f'bert = pretrain.load("{tmp_path}")',
        "python -m pretrain.export",
        "## Limits",
    ):
        assert fact in text, fact
    meta = ModelCard.load(str(tmp_path / "README.md")).data
    assert meta.library_name == "keras" and {"bert", "fill-mask", "seqlab"} <= set(meta.tags)
    assert (tmp_path / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_interrupted_run_resumes_with_the_same_command(corpus_dir, vocab_dir, tmp_path):
    out = str(tmp_path / "run")
    cmd = [
        sys.executable,
        "-m",
        "pretrain.train",
        "--corpus",
        corpus_dir,
        "--vocab",
        vocab_dir,
        "--out",
        out,
        "--steps",
        "60",
        "--checkpoint-every",
        "20",
        "--seed",
        "3",
    ] + TINY
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    latest = os.path.join(out, "checkpoint.json")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300  # a loaded machine can take minutes to import TensorFlow and train 20 steps
    while not os.path.exists(latest) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert os.path.exists(latest), "no checkpoint before the kill"
    step = saved_state(out)["step"]
    assert 20 <= step < 60 and step % 20 == 0
    done = run_here(*cmd[1:])  # the same command, resumed in this process (no second TensorFlow import)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"resumed from {os.path.join(out, f'checkpoint-{step}')} at step {step}" in done.stderr
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    assert metrics["steps"] == 60
    steps = column(saved_state(out)["history"], "step")
    assert steps == sorted(set(steps)) and steps[-1] == 60  # the count continued, nothing repeated


class Killed(BaseException):
    """What a kill -9 right after a checkpoint leaves, in-process: nothing after that checkpoint happens."""


@pytest.mark.slow
def test_a_run_with_dropout_interrupted_after_a_checkpoint_reproduces_the_straight_run(
    corpus_dir, vocab_dir, tmp_path, monkeypatch
):
    """The checkpoint holds the dropout RNG and the optimizer and the data stream is a function of the step, so
    the resumed half draws the same masks and batches: the same history, to the rounding of the rows."""
    from core import checkpoint
    from pretrain import train

    base = [
        "--corpus",
        corpus_dir,
        "--vocab",
        vocab_dir,
        "--steps",
        "20",
        "--checkpoint-every",
        "10",
        "--lr",
        "3e-3",
        "--warmup",
        "5",
        "--dropout",
        "0.1",
    ] + TINY
    straight, interrupted = str(tmp_path / "straight"), str(tmp_path / "interrupted")
    assert train.main(base + ["--out", straight]) == 0
    save = checkpoint.save

    def save_then_die(*args, **kwargs):
        save(*args, **kwargs)
        raise Killed

    monkeypatch.setattr(checkpoint, "save", save_then_die)
    with pytest.raises(Killed):
        train.main(base + ["--out", interrupted])
    monkeypatch.undo()
    assert saved_state(interrupted)["step"] == 10
    assert train.main(base + ["--out", interrupted]) == 0
    want, got = saved_state(straight)["history"], saved_state(interrupted)["history"]
    assert (
        column(got, "step") == column(want, "step") == [row["step"] for row in got if "val_mlm_loss" in row] == [10, 20]
    )
    for key in TRAIN_KEYS + VAL_KEYS:
        np.testing.assert_allclose(column(got, key), column(want, key), atol=2e-5, err_msg=key)


@pytest.mark.slow
def test_larger_steps_extend_a_finished_run_and_changed_documents_are_refused(vocab_dir, tmp_path, capsys):
    from pretrain import train

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, doc in enumerate(make_documents()):
        (corpus / f"doc{i:02d}.txt").write_text("\n".join(doc) + "\n")
    out = str(tmp_path / "run")
    base = ["--corpus", str(corpus), "--vocab", vocab_dir, "--out", out, "--checkpoint-every", "10"] + TINY
    assert train.main(base + ["--steps", "10"]) == 0
    assert train.main(base + ["--steps", "20"]) == 0
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    assert metrics["steps"] == 20 and [step for step, _ in metrics["commands"]] == [0, 10]
    card = open(os.path.join(out, "README.md")).read()
    assert "step 0: `python -m pretrain.train" in card and "step 10:" in card and "--steps 20" in card
    # the same command again trains nothing and adds nothing to the history
    assert train.main(base + ["--steps", "20"]) == 0
    assert [step for step, _ in json.load(open(os.path.join(out, "metrics.json")))["commands"]] == [0, 10]
    capsys.readouterr()
    assert train.main(base + ["--steps", "5"]) == 2
    assert "below the step this run has reached (20)" in capsys.readouterr().err
    # a folder in pretrain's layout before core.trainer (OUT/work/checkpoints/step-%08d) is refused by name, not
    # trained afresh over the model it holds
    old = tmp_path / "old"
    (old / "work" / "checkpoints" / "step-00000020").mkdir(parents=True)
    (old / "work" / "checkpoints" / "latest").write_text("step-00000020")
    assert train.main([*base, "--out", str(old), "--steps", "30"]) == 2
    err = capsys.readouterr().err
    assert "layout before core.trainer" in err and "use another --out" in err, err
    assert not (old / "checkpoint.json").exists()
    # the same name, other text: resuming would silently mix two data sets
    (corpus / "doc00.txt").write_text("the ship and the wave by the shore .\n")
    capsys.readouterr()
    assert train.main(base + ["--steps", "40"]) == 2
    err = capsys.readouterr().err
    assert "documents" in err and "changed" in err, err


@pytest.mark.slow  # the trained fixture: a 60-step pretraining run
def test_resuming_with_other_settings_names_them(trained, corpus_dir, vocab_dir, capsys):
    from pretrain import train

    args = [
        "--corpus",
        corpus_dir,
        "--vocab",
        vocab_dir,
        "--out",
        trained,
        "--steps",
        "60",
        "--lr",
        "3e-3",
        "--warmup",
        "5",
        "--checkpoint-every",
        "30",
        "--dropout",
        "0",
    ] + TINY
    capsys.readouterr()
    assert train.main(args[:-2] + ["--batch-size", "4", "--dim", "48"]) == 2
    err = capsys.readouterr().err
    assert "--batch-size 8 (not 4)" in err and "--dim 32 (not 48)" in err and "Traceback" not in err, err
    assert err.splitlines()[-1].startswith("error:")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"--corpus": "/no/such/corpus"}, "not found"),
        # every argument check comes before the corpus is read: these name the argument, not the missing corpus
        ({"--corpus": "/no/such/corpus", "--seq-len": "4096"}, "beyond"),
        ({"--corpus": "/no/such/corpus", "--steps": "-3"}, "positive"),
        ({"--corpus": "/no/such/corpus", "--mask-rate": "1.5"}, "--mask-rate"),
        ({"--corpus": "/no/such/corpus", "--dim": "33"}, "not divisible by 2 heads"),
        ({"--corpus": "/no/such/corpus", "--lr": "0"}, "--lr must be positive"),
        ({"--corpus": "/no/such/corpus", "--preset": "huge"}, "unknown preset"),
        ({"--out": "/proc/seqlab-cannot-write"}, "cannot write"),
        ({"--corpus": "/no/such/corpus", "--distribute": "data"}, "--distribute data runs on JAX"),  # this is TF
        ({"--corpus": "/no/such/corpus", "--corpus-cap": "1.5"}, "--corpus-cap must be a share in (0, 1]"),
    ],
)
def test_bad_input_is_one_clear_line(change, message, corpus_dir, vocab_dir, tmp_path, capsys):
    from pretrain import train

    args = {"--corpus": corpus_dir, "--vocab": vocab_dir, "--out": str(tmp_path / "o"), "--steps": "2", **change}
    assert train.main(TINY + [x for kv in args.items() for x in kv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    # the one error line ends stderr (a missing corpus is found after the trainer says it reads the data)
    assert err[-1].startswith("error:") and message in err[-1] and sum(line.startswith("error") for line in err) == 1


@pytest.mark.parametrize("process, message", [("2", "PROCESS_ID 2 is out of range"), ("one", "a whole number")])
def test_a_bad_process_id_is_refused_before_the_corpus_is_read(
    process, message, vocab_dir, tmp_path, capsys, monkeypatch
):
    from pretrain import train

    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "2")
    monkeypatch.setenv("KERAS_DISTRIBUTION_PROCESS_ID", process)
    args = ["--corpus", "/no/such/corpus", "--vocab", vocab_dir, "--out", str(tmp_path / "o"), "--steps", "2"]
    assert train.main(TINY + args + ["--distribute", "data"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: KERAS_DISTRIBUTION_") and message in err[-1], err


@pytest.mark.slow
def test_cli_error_has_no_traceback(vocab_dir, tmp_path):
    """In this process (an exception would fail the test itself); test_full_disk_while_checkpointing_is_a_clear_error
    runs `python -m pretrain.train` to such an error in a process of its own."""
    done = run_here(
        "-m", "pretrain.train", "--corpus", "/no/such", "--vocab", vocab_dir, "--out", str(tmp_path), "--steps", "5"
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr and "error: corpus" in done.stderr


def test_the_cli_only_parses_and_builds_a_config():
    """The library takes a PretrainConfig whose fields are the flags (core.flags); the defaults that follow other
    settings are filled by validate: --warmup from the budget, --eval-every from --checkpoint-every."""
    from core import flags
    from pretrain import train
    from pretrain.config import Architecture, Masking, PretrainConfig

    def parse(*argv):
        return flags.build(
            PretrainConfig, train.parser().parse_args(["--corpus", "c", "--vocab", "v", "--out", "o", *argv])
        )

    c = parse("--steps", "300", "--dim", "48", "--jit", "--checkpoint-every", "50").validate()
    assert isinstance(c, PretrainConfig) and c.architecture.dim == 48 and c.jit
    assert (c.optimizer.decay, c.optimizer.epsilon, c.optimizer.warmup, c.optimizer.clip_norm) == (
        "linear",
        1e-6,
        30,
        1.0,
    )
    assert c.budget.steps == 300 and c.masking == Masking(0.15, 20) and c.precision == "fp32"
    assert (c.checkpoint_every, c.eval_every, c.log_every) == (50, 50, 10)
    c = parse("--minutes", "2", "--no-jit", "--warmup", "7", "--eval-every", "20").validate()
    assert (
        not c.jit
        and c.optimizer.warmup == 7
        and c.budget.seconds == 120
        and (c.checkpoint_every, c.eval_every) == (500, 20)
    )
    assert parse("--minutes", "2").validate().optimizer.warmup == 200
    assert parse("--steps", "50000").validate().optimizer.warmup == 1000
    config = PretrainConfig(corpus="c", vocab="v", out="o", budget=Budget(steps=5), architecture=Architecture(dim=48))
    assert flags.argv(config) == ["--out", "o", "--steps", "5", "--corpus", "c", "--vocab", "v", "--dim", "48"]
    assert flags.build(PretrainConfig, train.parser().parse_args(flags.argv(config))) == config
    for argv in (["--steps", "3", "--minutes", "1"], ["--steps", "3", "--hidden", "48"]):  # one budget; --dim only
        with pytest.raises(SystemExit):
            parse(*argv)


def test_bert_optimizer_keeps_the_numbers_pretrain_always_used():
    """core.optim's AdamW with BERT's settings: warm-up then linear decay to 0, epsilon 1e-6, global clipping,
    no decay on LayerNorm and biases; set_total gives a new end and retraces."""
    from core import optim
    from pretrain.config import bert_optimizer
    from pretrain.train import compile_model

    model = compile_model(small_model(), bert_optimizer(lr=1e-3, warmup=10, weight_decay=0.02), 100)
    opt = model.optimizer

    def before(step, peak=1e-3, warmup=10, total=100):  # pretrain.train.make_schedule before the core
        return peak * step / warmup if step < warmup else peak * max(0.0, (total - step) / (total - warmup))

    steps = [0, 1, 5, 9, 10, 11, 50, 99, 100, 150]
    np.testing.assert_allclose(
        [optim.current_lr(opt._learning_rate, s) for s in steps], [before(s) for s in steps], rtol=1e-6, atol=1e-12
    )
    assert opt.epsilon == 1e-6 and opt.global_clipnorm == 1.0 and opt.clipnorm is None and opt.weight_decay == 0.02
    decayed = {v.path for v in model.trainable_variables if opt._use_weight_decay(v)}
    assert decayed and not [p for p in decayed if any(k in p for k in ("gamma", "beta", "bias", "norm"))]
    optim.set_total(model, 200)
    assert optim.current_lr(opt._learning_rate, 105) == pytest.approx(before(105, total=200))


def test_vocab_prints_json_last_and_checks_its_size_before_reading(corpus_dir, tmp_path, capsys):
    from pretrain import vocab

    assert vocab.main(["--corpus", corpus_dir, "--size", "60", "--out", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {
        "vocab": str(tmp_path / "vocab.txt"),
        "tokens": 60,
    }
    assert vocab.main(["--corpus", "/no/such/corpus", "--size", "3", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == "error: --size 3 is too small for a WordPiece vocabulary"


# ---------------------------------------------------------------------------------- evaluate / export / load
@pytest.mark.slow  # the trained fixture: a 60-step pretraining run
def test_evaluate_prints_deterministic_json(bert, trained, tmp_path, capsys):
    from pretrain import evaluate

    docs = make_documents(n_docs=6, n_sentences=10, seed=7)
    path = tmp_path / "docs.txt"
    path.write_text("\n\n".join("\n".join(d) for d in docs) + "\n")
    runs = []
    for _ in range(2):  # the same model, file and seed: the same figures
        assert evaluate.main(["--model", trained, "--data", str(path), "--seed", "5"]) == 0
        runs.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    assert runs[0] == runs[1]
    r = runs[0]
    assert set(r) == {
        "mlm_accuracy",
        "mlm_loss",
        "nsp_accuracy",
        "nsp_accuracy_same_doc",
        "pairs",
        "same_doc_pairs",
        "same_doc_fallbacks",
        "masked_tokens",
    }
    assert r["pairs"] > 5 and r["masked_tokens"] > 0 and 0 <= r["mlm_accuracy"] <= 1 and r["mlm_loss"] > 0
    # documents of 10 sentences leave room for a negative 3 or more sentences from the true next one
    assert r["same_doc_pairs"] > 0 and 0 <= r["nsp_accuracy_same_doc"] <= 1


@pytest.mark.slow  # the trained fixture: a 60-step pretraining run
def test_evaluate_reads_every_shard_of_a_large_file(bert, monkeypatch, tmp_path):
    from pretrain import data, evaluate

    docs = make_documents(n_docs=30, n_sentences=10, seed=7)
    whole = evaluate.evaluate(bert, docs, seed=5)
    monkeypatch.setattr(data, "SHARD_TOKENS", 100)  # what a file of tens of millions of characters gives
    assert data.write_shards(docs, bert.tokenizer, str(tmp_path / "s")) > 5
    split = evaluate.evaluate(bert, docs, seed=5)
    assert abs(split["pairs"] - whole["pairs"]) <= 0.1 * whole["pairs"], (split, whole)
    assert abs(split["masked_tokens"] - whole["masked_tokens"]) <= 0.1 * whole["masked_tokens"]


@pytest.mark.slow  # the trained fixture: a 60-step pretraining run
def test_export_matches_transformers(bert, tmp_path, capsys):
    import torch
    import transformers

    from pretrain import export

    out = str(tmp_path / "hf")
    assert export.main(["--model", bert.folder, "--out", out]) == 0
    written = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert written["out"] == out and sorted(written["files"]) == sorted(os.listdir(out))
    assert "library_name: transformers" in open(os.path.join(out, "README.md")).read()
    hf = transformers.BertForPreTraining.from_pretrained(out).eval()
    tok = transformers.BertTokenizer.from_pretrained(out)
    a, b = "the cow and the [MASK] by the barn .", "the hay and the goat by the field ."
    enc = tok(a, b, return_tensors="pt")
    with torch.no_grad():
        o = hf(**enc, output_hidden_states=True)
    ids, seg = enc["input_ids"][0].numpy(), enc["token_type_ids"][0].numpy()
    ours_ids, ours_seg = bert._encode(a, b)
    assert ids.tolist() == ours_ids.tolist() and seg.tolist() == ours_seg.tolist()
    where = np.nonzero(ids == 4)[0]
    mine = bert._run(ids, seg, where)
    np.testing.assert_allclose(o.prediction_logits[0].numpy()[where], mine["mlm"][: len(where)], atol=1e-4)
    np.testing.assert_allclose(o.seq_relationship_logits[0].numpy(), mine["nsp"], atol=1e-4)
    np.testing.assert_allclose(o.hidden_states[-1][0].numpy(), mine["sequence"][: len(ids)], atol=1e-4)
    fill = transformers.pipeline("fill-mask", model=out, tokenizer=out, top_k=3)("the cow and the [MASK] by the barn .")
    ours = bert.fill_mask("the cow and the [MASK] by the barn .", top_k=3)[0]
    assert [r["token_str"] for r in fill] == [t for t, _ in ours]
    np.testing.assert_allclose([r["score"] for r in fill], [p for _, p in ours], atol=1e-4)


@pytest.mark.slow  # the trained fixture: a 60-step pretraining run
def test_load_api(bert, trained, monkeypatch):
    import pretrain

    two = bert.fill_mask("the [MASK] and the [MASK] by the barn .", top_k=4)
    assert len(two) == 2 and all(len(r) == 4 for r in two)
    assert all(isinstance(t, str) and 0 <= p <= 1 for r in two for t, p in r)
    assert two[0][0][1] >= two[0][1][1]
    with pytest.raises(ValueError, match=r"\[MASK\]"):
        bert.fill_mask("no mask here")
    with pytest.raises(ValueError, match="wordpieces, past the model's 510"):  # a mask cut off is not dropped
        bert.fill_mask("the cow . " * 200 + "the [MASK] .")
    p = bert.next_sentence("the cow and the sheep .", "the ship and the wave .")
    assert isinstance(p, float) and 0 <= p <= 1
    tokens, vectors = bert.embed("the cow and the sheep")
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and vectors.shape == (len(tokens), 32)
    assert bert.config.hidden_size == 32 and "SeqLab BERT" in bert.card and bert.name
    fn = getattr(bert.model, "predict_function", None)
    if hasattr(fn, "experimental_get_tracing_count"):  # TensorFlow: no retracing per input length
        before = fn.experimental_get_tracing_count()
        for text in ("the [MASK] .", "the cow and the sheep by the [MASK] and the goat .", "a " * 20 + "[MASK]"):
            bert.fill_mask(text)
            bert.next_sentence(text, "the cow .")
        assert fn.experimental_get_tracing_count() == before
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match="Hugging Face Hub"):
        pretrain.load("seqlab-nobody/no-such-model")
    with pytest.raises(ValueError, match="not found"):
        pretrain.load("no-such-bundled-model")


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_checkpoint(corpus_dir, vocab_dir, tmp_path, capsys):
    from pretrain import train

    out = str(tmp_path / "nan")
    args = TINY + [
        "--corpus",
        corpus_dir,
        "--vocab",
        vocab_dir,
        "--out",
        out,
        "--steps",
        "40",
        "--lr",
        "1e38",
        "--warmup",
        "0",
        "--checkpoint-every",
        "1",
        "--clip-norm",
        "1e30",
    ]
    assert train.main(args) == 3
    err = capsys.readouterr().err
    assert re.search(
        r"error: the loss became (nan|inf) at step \d+; training stopped \(the last good checkpoint is kept", err
    )
    assert "Traceback" not in err, err
    kept = saved_state(out)
    assert kept["step"] >= 1 and all(np.isfinite(row["train_loss"]) for row in kept["history"])
    assert not os.path.exists(os.path.join(out, "metrics.json"))


@pytest.mark.slow
def test_bf16_run_then_a_failed_push_keeps_the_model(corpus_dir, vocab_dir, tmp_path, capsys, monkeypatch):
    """--precision bf16 trains and saves a usable float32 model and leaves the process's dtype policy float32 (in
    process, so a leak would reach whatever is built next); a push that cannot reach the Hub says so in one line and
    loses nothing (offline here, the same path as a missing token or a repo without rights)."""
    import huggingface_hub.constants
    import keras

    from pretrain import train

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # HF_HUB_OFFLINE=1 even outside test.sh
    out = str(tmp_path / "bf16")
    argv = ["--corpus", corpus_dir, "--vocab", vocab_dir, "--out", out, "--steps", "6", "--precision", "bf16"]
    assert train.main(argv + ["--push-to-hub", "seqlab/none"] + TINY) == 2
    err = capsys.readouterr().err
    assert f"the model is saved in {out}, but pushing it to seqlab/none failed" in err and "Traceback" not in err
    assert keras.mixed_precision.global_policy().name == "float32"
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    assert metrics["steps"] == 6 and np.isfinite(metrics["mlm_loss"])
    import pretrain

    bert = pretrain.load(out)
    assert all(w.dtype == "float32" for w in bert.model.weights) and bert.model.compute_dtype == "float32"
    (guesses,) = bert.fill_mask("the cow and the [MASK] by the barn .")
    assert len(guesses) == 5 and all(np.isfinite(p) and 0 <= p <= 1 for _, p in guesses)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jax_env(devices: int = 1, **extra) -> dict:
    """A JAX process on the CPU (the GPU machines have no TensorFlow), with `devices` host devices."""
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    if devices > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return {**env, **extra}


def job(argv: list[str], processes: int = 2, devices: int = 2, **extra) -> list[subprocess.Popen]:
    """`processes` pretrain.train processes on localhost joined by Keras's variables, `devices` each."""
    port = free_port()
    return [
        subprocess.Popen(
            [sys.executable, "-m", "pretrain.train", *argv, "--distribute", "data"],
            cwd=ROOT,
            env=jax_env(
                devices,
                KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{port}",
                KERAS_DISTRIBUTION_NUM_PROCESSES=str(processes),
                KERAS_DISTRIBUTION_PROCESS_ID=str(i),
                **extra,
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]


def finish(procs, timeout=300) -> list[tuple[int, str, str]]:
    """(returncode, stdout, stderr) of each process; a hang past `timeout` fails the test."""
    results = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise AssertionError(f"a process did not end within {timeout} s") from None
        results.append((p.returncode, out, err))
    return results


@pytest.mark.slow
def test_jax_on_two_processes_matches_one_survives_a_kill_resumes_and_loads_on_tensorflow(
    corpus_dir, vocab_dir, tmp_path
):
    """The multi-machine path on one machine: two JAX processes on localhost (Gloo collectives), two host devices
    each, joined by keras.distribution.initialize from Keras's variables (--distribute data), against one process
    on two devices (the single-process data parallel path) with the same global batch. One process is killed
    after the first checkpoint: the other stops with a clear error, and the same command on both resumes from
    the checkpoint; the whole history then matches the one-process run's, which validated and checkpointed on
    the way too. Only process 0 writes --out; the weights load on TensorFlow. Bad settings fail before the corpus
    is read."""
    base = ["--corpus", corpus_dir, "--vocab", vocab_dir, "--checkpoint-every", "10", "--lr", "3e-3"]
    base += ["--warmup", "5", "--dropout", "0", "--jit", "--steps", "30"] + TINY
    out, one = str(tmp_path / "two"), str(tmp_path / "one")
    # JAX's compilation cache, shared by the runs: the resumed job loads what the killed one compiled (building
    # the model under a distribution compiles each variable's initializer) instead of compiling it again
    cache = dict(
        JAX_COMPILATION_CACHE_DIR=str(tmp_path / "xla-cache"),
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
        JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
    )
    scratch = [tmp_path / "scratch-a", tmp_path / "scratch-b"]
    for folder in scratch:
        folder.mkdir()
    # one job at a time (two processes: the two cores), the one-process run and the refused one last, together
    first = job([*base, "--out", out], TMPDIR=str(scratch[0]), **cache)
    pointer = os.path.join(out, "checkpoint.json")
    deadline = time.monotonic() + 300
    while not os.path.exists(pointer) and all(p.poll() is None for p in first) and time.monotonic() < deadline:
        time.sleep(0.02)  # polling for the first checkpoint, with a deadline
    assert os.path.exists(pointer), [p.stderr.read()[-2000:] for p in first if p.poll() is not None]
    first[1].send_signal(signal.SIGKILL)
    (code, _, err), _ = finish(first, timeout=120)  # bounded: the survivor does not wait for a heartbeat
    assert code == 3 and "process 0 of 2 lost the others" in err, err[-2000:]
    assert "run the same command on every process again to resume from the last checkpoint" in err
    stopped_at = saved_state(out)["step"]
    assert 10 <= stopped_at < 30

    second = job([*base, "--out", out], TMPDIR=str(scratch[1]), **cache)
    (code, stdout, err), (code1, _, err1) = finish(second)
    assert code == 0 and code1 == 0, (err[-2000:], err1[-2000:])
    assert f"resumed from {os.path.join(out, f'checkpoint-{stopped_at}')} at step {stopped_at}" in err
    assert "process 0 of 2: data parallel over 4 devices, 2 sequences each, 4 built here" in err
    last = json.loads(stdout.strip().splitlines()[-1])
    assert (last["processes"], last["devices"], last["global_batch"], last["steps"]) == (2, 4, 8, 30)
    assert os.listdir(scratch[1]) == []  # process 1 wrote its copies in a scratch folder, deleted at the end

    reference = subprocess.Popen(
        [sys.executable, "-m", "pretrain.train", *base, "--out", one],
        cwd=ROOT,
        env=jax_env(2, **cache),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    bad = job(  # one process of two devices, 7 sequences: refused before the corpus (there is none) is read
        ["--corpus", str(tmp_path / "nowhere"), "--vocab", vocab_dir, "--out", str(tmp_path / "bad"), "--steps", "2"]
        + TINY[:-1]
        + ["7"],
        processes=1,
    )
    (code, _, err), (code1, _, err1) = finish(bad) + finish([reference])
    assert code == 2 and "error: --batch-size 7 does not split evenly over 2 devices\n" in err, err
    assert code1 == 0 and "data parallel over 2 devices, 4 sequences each" in err1, err1[-2000:]

    state, expected = saved_state(out), saved_state(one)
    assert column(validations(state), "step") == [10, 20, 30]
    assert state["history"][-1]["train_mlm_loss"] < state["history"][0]["train_mlm_loss"] - 0.5  # it learnt
    for key in TRAIN_KEYS + VAL_KEYS:  # 4.2e-8 apart at most in a 60-step run: float rounding of the reductions
        np.testing.assert_allclose(column(state["history"], key), column(expected["history"], key), rtol=1e-5)
    import pretrain

    (guesses,) = pretrain.load(out).fill_mask("the cow and the [MASK] by the barn .")  # this process: TensorFlow
    assert guesses[0][0] in WORDS["farm"] + ["the", "and", "by", "."], guesses


SPLIT_CPU = """import sys, tensorflow as tf
tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
                                           [tf.config.LogicalDeviceConfiguration()] * 2)
from pretrain.train import main
sys.exit(main(sys.argv[1:]))"""


@pytest.mark.slow
def test_tensorflow_on_two_devices_trains_as_one_device_and_says_so(trained, corpus_dir, vocab_dir, tmp_path):
    """TensorFlow's several-device case without GPUs: the CPU split into two logical devices. train_on_batch under
    a MirroredStrategy would hand each replica the whole batch (pretrain.train.parallel_devices), so the run
    trains on one device, says so, and gives the `trained` fixture's figures (the same run on one device)."""
    out = str(tmp_path / "split")
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    args = [
        "--corpus",
        corpus_dir,
        "--vocab",
        vocab_dir,
        "--out",
        out,
        "--steps",
        "60",
        "--lr",
        "3e-3",
        "--warmup",
        "5",
        "--checkpoint-every",
        "30",
        "--dropout",
        "0",
    ] + TINY
    done = subprocess.run(
        [sys.executable, "-c", SPLIT_CPU, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "TensorFlow trains on one of the 2 devices it sees" in done.stderr and "data parallel" not in done.stderr
    single = json.load(open(os.path.join(trained, "metrics.json")))
    split = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("mlm_loss", "mlm_accuracy", "nsp_loss", "nsp_accuracy"):
        assert split[key] == pytest.approx(single[key], rel=1e-3, abs=1e-4), key


@pytest.mark.slow
def test_full_disk_while_checkpointing_is_a_clear_error(corpus_dir, vocab_dir, tmp_path):
    """The token shards fit, a checkpoint does not: refused before writing (h5py can crash on a full disk)."""
    from tests.helpers import tiny_disk

    with tiny_disk(tmp_path / "disk", "400k") as disk:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pretrain.train",
                "--corpus",
                corpus_dir,
                "--vocab",
                vocab_dir,
                "--out",
                str(disk / "m"),
                "--steps",
                "4",
                "--checkpoint-every",
                "2",
            ]
            + TINY,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env=dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3"),
        )
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
        assert "not enough disk space" in done.stderr
        assert not [n for n in os.listdir(disk / "m") if n.startswith(".tmp") or n.startswith("checkpoint")]


@pytest.mark.slow  # the trained fixture: a 60-step pretraining run
def test_truncated_weights_file_gives_an_error_naming_it(trained, tmp_path):
    import shutil

    import pretrain

    folder = tmp_path / "broken"
    shutil.copytree(trained, folder, ignore=shutil.ignore_patterns("work", "checkpoint-*", "logs"))
    weights = folder / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(OSError, match="model.weights.h5 is truncated or corrupted"):
        pretrain.load(str(folder))
