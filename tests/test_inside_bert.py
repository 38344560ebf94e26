"""Looking inside the bundled BERT (issue 16): hidden_states and attention are the model's own, and the sense-
matching bench scores what it says it scores on a data set that keeps its rules.

Only bundled models are loaded in this process, and no other Keras model is built here: a model built first
would shift Keras's automatic layer names, by which the bundled weights are read.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from bench import sense_match
from tests.helpers import run_here

TEXT = "the river bank was muddy after the rain"


@pytest.fixture(scope="module")
def bert():
    import pretrain

    return pretrain.load("bert")


# ---------------------------------------------------------------------------------------------- hidden states
def test_hidden_states_has_every_layer_and_the_last_is_embed(bert):
    tokens, states = bert.hidden_states(TEXT)
    c = bert.config
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert states.shape == (c.num_layers + 1, len(tokens), c.hidden_size) and states.dtype == np.float32
    embed_tokens, vectors = bert.embed(TEXT)
    assert tokens == embed_tokens
    np.testing.assert_allclose(states[-1], vectors, rtol=0, atol=1e-5)


def test_layer_zero_is_the_wordpiece_embedding_in_every_sentence(bert):
    a_tokens, a = bert.hidden_states("turn on the light please")
    b_tokens, b = bert.hidden_states("this bag is light enough to carry")
    i, j = a_tokens.index("light"), b_tokens.index("light")
    table = np.asarray(bert.model.token_embedding.embeddings)
    np.testing.assert_array_equal(a[0, i], table[bert.tokens.index("light")])  # no position, segment, LayerNorm
    np.testing.assert_array_equal(a[0, i], b[0, j])
    assert not np.allclose(a[1, i], b[1, j], atol=1e-3)  # from the first block on, the context shows


# -------------------------------------------------------------------------------------------------- attention
def test_attention_is_a_distribution_per_layer_head_and_query(bert):
    text = "the lord is my [MASK] , i shall not want"
    tokens, maps = bert.attention(text)
    c = bert.config
    assert "[MASK]" in tokens and tokens == bert.hidden_states(text)[0]
    assert maps.shape == (c.num_layers, c.num_heads, len(tokens), len(tokens))
    assert maps.min() >= 0
    np.testing.assert_allclose(maps.sum(-1), 1, rtol=0, atol=1e-5)


def test_attention_maps_are_the_ones_the_blocks_use(bert):
    """On the padded bucket the model runs at: padding gets exactly 0 weight, and each block rebuilt from its own
    parts with these maps gives the block's own output."""
    from pretrain import model as bert_model

    ids, seg = bert._encode(TEXT)
    n = len(ids)
    inside = bert._run_inside(ids, seg)
    states, maps = inside["states"], inside["attention"]
    bucket = states.shape[1]
    assert bucket == bert.buckets[0] > n and maps.shape[-2:] == (bucket, bucket)
    assert np.all(maps[..., n:] == 0)  # every query, real or padded, gives the padding no weight at all
    np.testing.assert_allclose(maps.sum(-1), 1, rtol=0, atol=1e-5)

    x = bert._pad(ids, seg)
    mask = x["padding_mask"].astype(bool)
    h = bert.model.embed_inputs(x["token_ids"], x["segment_ids"])
    for i, block in enumerate(bert.model.blocks):
        out, probs = bert_model.recompute_block(block, h, mask)
        np.testing.assert_allclose(np.asarray(probs)[0], maps[i], rtol=0, atol=1e-5, err_msg=f"block {i}")
        np.testing.assert_allclose(np.asarray(out)[0], states[i + 1], rtol=0, atol=1e-4, err_msg=f"block {i}")
        h = states[i + 1][None]


def test_inside_traces_once_per_bucket_not_per_request(bert):
    bert.attention("the [MASK] .")
    fn = bert._inside.predict_function
    if not hasattr(fn, "experimental_get_tracing_count"):
        pytest.skip("tracing counts are TensorFlow's")
    before = fn.experimental_get_tracing_count()
    for text in ("a b c", "the cow and the sheep by the [MASK] and the goat .", TEXT):
        bert.attention(text)
        bert.hidden_states(text)
    assert fn.experimental_get_tracing_count() == before


# ------------------------------------------------------------------------------------------------ sense match
def test_scoring_on_hand_made_vectors():
    senses = ["a", "a", "a", "b", "b", "b"]
    apart = [[1, 0], [1, 0], [1, 0], [0, 1], [0, 1], [0, 1]]  # two orthogonal senses: always right
    score, chance = sense_match.nearest_same_sense(apart, senses)
    assert score.tolist() == [1.0] * 6 and chance.tolist() == [0.4] * 6
    same = [[0.3, 0.7]] * 6  # one vector for every occurrence (a context-free layer): a tie, exactly chance
    score, chance = sense_match.nearest_same_sense(same, senses)
    assert score.tolist() == chance.tolist() == [0.4] * 6
    crossed = [[1, 0], [0, 1], [0, 1], [1, 0]]  # each one's nearest is of the other sense
    score, _ = sense_match.nearest_same_sense(crossed, ["a", "a", "b", "b"])
    assert score.tolist() == [0.0] * 4


def test_find_word_takes_whole_words_only():
    tokens = ["[CLS]", "the", "bank", "##er", "at", "the", "ba", "##nk", "[SEP]"]
    assert sense_match.find_word(tokens, ["ba", "##nk"]) == [6, 7]
    with pytest.raises(ValueError, match="0 times"):
        sense_match.find_word(tokens, ["bank"])  # "bank ##er" is another word
    assert sense_match.find_word(["The", "bank", "."], ["bank"], continuation=None) == [1]


def test_sense_data_keeps_its_rules():
    from inside import reference
    from pretrain import vocab

    # one set, in the product (the app's reference sentences); the bench reads it from there
    assert sense_match.DATA == reference.SENSES and reference.SENSES.endswith("inside/data/senses.json")
    with open(sense_match.DATA, encoding="utf-8") as f:
        data = json.load(f)
    assert data["about"]
    words = data["words"]
    assert len(words) >= 22 and len({w["word"] for w in words}) == len(words)
    tokenizers = [vocab.make_tokenizer(vocab.read_vocab(f"{sense_match.BERTS}/{m}")) for m in ("bert", "bert-imdb")]
    sentences = [s for w in words for ss in w["senses"].values() for s in ss]
    assert len(set(sentences)) == len(sentences)
    for entry in words:
        word = entry["word"]
        assert len(entry["senses"]) == 2, word
        for sense, examples in entry["senses"].items():
            assert len(examples) >= 5, (word, sense)
            for s in examples:
                assert 8 <= len(s.split()) <= 20, s
                hits = list(re.finditer(rf"\b{re.escape(word)}\b", s, re.IGNORECASE))
                assert len(hits) == 1, s
                found = hits[0]
                assert found.group(0) == word or (found.start() == 0 and found.group(0) == word.capitalize()), s
                for tok in tokenizers:  # the bench finds it among the wordpieces too
                    pieces = tok.encode(found.group(0), add_special_tokens=False).tokens
                    sense_match.find_word(["[CLS]", *tok.encode(s, add_special_tokens=False).tokens], pieces)


@pytest.mark.slow
def test_sense_match_command_on_a_tiny_data_set(tmp_path):
    data = tmp_path / "senses.json"
    words = json.load(open(sense_match.DATA, encoding="utf-8"))["words"][:2]
    data.write_text(json.dumps({"about": "two words of the real set", "words": words}))
    out = tmp_path / "result.json"
    done = run_here("-m", "bench.sense_match", "--models", "bert", "--data", str(data), "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    r = json.loads(done.stdout.strip().splitlines()[-1])
    assert r == json.loads(out.read_text())
    num_layers = json.load(open(f"{sense_match.BERTS}/bert/config.json"))["num_layers"]
    layers = [f"bert layer {i}" for i in range(num_layers + 1)]
    assert list(r["results"]) == layers and r["occurrences"] == 20
    assert r["results"]["bert layer 0"]["score"] == r["results"]["bert layer 0"]["chance"] == 0.4444
    assert all(set(r["results"][name]["words"]) == {"bank", "light"} for name in layers)
    assert "bert layer 4" in done.stderr  # the table
    bad = run_here("-m", "bench.sense_match", "--models", "no-such-model")
    assert bad.returncode == 2 and bad.stderr.startswith("error: no weights for no-such-model")
