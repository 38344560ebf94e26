"""The Inside tab's computations (the `inside` package) and handlers, in process and quick: over stand-in models
with real tokenizers (lm's word tokenizer, a real WordPiece tokenizer) whose vectors are made to be context-free
at layer 0 and contextual above it, so every number the views show can be predicted. The real models are
served and called through the API in test_app.py and drawn in a browser in test_browser.py.

No Keras model is built here (building one would shift the automatic layer names the bundled weights load by).
"""

from __future__ import annotations

import types
import zlib

import numpy as np
import pytest

from inside import attention, cells, contexts, kinds, reference, vectors

WORDS = "the a she sat on bank of river put her money in light day was good dark bag is".split()


def _vec(token: str, width: int = 8) -> np.ndarray:
    return np.random.default_rng(zlib.crc32(token.encode())).normal(size=width)


def _contextual(base: np.ndarray, depth: int) -> np.ndarray:
    """Layer `depth` of a stand-in: each token's own vector plus its neighbours', more of them the deeper."""
    left = np.vstack([np.zeros((1, base.shape[1])), base[:-1]])
    right = np.vstack([base[1:], np.zeros((1, base.shape[1]))])
    return base + depth * (left + right)


class StandInElmo:
    """What inside needs of an lm.bilm.BiLanguageModel: config (arch bilm, layers, proj), the word tokenizer,
    `embed(text)` -> lm.bilm.Embedding; and what the page needs of any core.model.ModelFolder."""

    kind, card = "bilm", ""

    def __init__(self, name: str = "elmo", folder: str = ""):
        from lm.tokenizer import Tokenizer

        self.name, self.folder = name, folder
        self.config = types.SimpleNamespace(arch="bilm", layers=2, proj=4)
        self.tokenizer = Tokenizer.train(" ".join(WORDS), "word")
        self.calls = 0

    def embed(self, text: str):
        from lm.bilm import Embedding

        self.calls += 1
        words = self.tokenizer.pieces(text)
        if not words:
            raise ValueError("the text has no words to embed")
        base = np.stack([_vec(w) for w in words])
        return Embedding(words, np.stack([_contextual(base, d) for d in range(3)]).astype(np.float32))


class StandInBert:
    """What inside needs of a pretrain.api.Pretrained: config, a real WordPiece tokenizer, `hidden_states` and
    `attention` (uniform: every token attends to all alike); and what the page needs of any ModelFolder."""

    kind, card = "bert", ""

    def __init__(self, name: str = "bert", folder: str = ""):
        from pretrain.vocab import SPECIALS, make_tokenizer

        self.name, self.folder = name, folder
        self.config = types.SimpleNamespace(num_layers=2, num_heads=2, hidden_size=8, max_positions=32)
        self.tokenizer = make_tokenizer([*SPECIALS, *WORDS, "##s", "##y", ",", "."])

    def _tokens(self, text):
        return ["[CLS]", *self.tokenizer.encode(text, add_special_tokens=False).tokens, "[SEP]"]

    def hidden_states(self, text):
        tokens = self._tokens(text)
        base = np.stack([_vec(t) for t in tokens])
        return tokens, np.stack([_contextual(base, d) for d in range(3)]).astype(np.float32)

    def attention(self, text):
        n = len(self._tokens(text))
        return self._tokens(text), np.full((2, 2, n, n), 1.0 / n, np.float32)


BANK = ["She put her money in the bank.", "She sat on the bank of the river."]


# -------------------------------------------------------------------------------------------------- kinds, vectors
def test_kinds_tell_the_models_apart_and_count_tokens_without_running_them():
    elmo, bert = StandInElmo(), StandInBert()
    assert (kinds.kind(elmo), kinds.layers(elmo), kinds.width(elmo)) == (kinds.ELMO, 2, 8)
    assert (kinds.kind(bert), kinds.layers(bert), kinds.heads(bert), kinds.width(bert)) == (kinds.BERT, 2, 2, 8)
    assert kinds.tokens(bert, "the banks") == ["[CLS]", "the", "bank", "##s", "[SEP]"]
    assert kinds.tokens(elmo, "the bank.") == ["the", "bank", "."] and elmo.calls == 0
    for arch in ("transformer", "lstm"):
        assert kinds.kind(types.SimpleNamespace(config=types.SimpleNamespace(arch=arch))) == arch
    with pytest.raises(ValueError, match="not a model the Inside views know"):
        kinds.kind(types.SimpleNamespace(config=types.SimpleNamespace(arch="rnn")))


def test_embed_gives_plain_lists_layer_zero_context_free():
    for model in (StandInElmo(), StandInBert()):
        a, b = (vectors.embed(model, s, layer=0) for s in BANK)
        assert isinstance(a["vectors"][0][0], float) and len(a["vectors"]) == len(a["tokens"])
        i, j = a["tokens"].index("bank"), b["tokens"].index("bank")
        assert a["vectors"][i] == b["vectors"][j]
        mixed = [vectors.embed(model, s, layer=-1) for s in BANK]
        assert mixed[0]["vectors"][i] != mixed[1]["vectors"][j]
        with pytest.raises(ValueError, match="layer must be between -1"):
            vectors.embed(model, "the bank", layer=3)
    elmo = StandInElmo()
    expected = elmo.embed(BANK[0]).mix()  # ELMo's -1 is its mix (equal weights: the stand-in has no fitted one)
    np.testing.assert_allclose(vectors.embed(elmo, BANK[0], -1)["vectors"], expected, rtol=1e-5)


def test_word_vectors_join_wordpieces_and_leave_out_punctuation_and_specials():
    bert = StandInBert()
    words = vectors.word_vectors(bert, "the banks, the bank.", layers=(0, -1))
    assert words.words == ["the", "banks", "the", "bank"]
    tokens, states = bert.hidden_states("the banks, the bank.")
    np.testing.assert_allclose(words.vectors[0][1], states[0][2:4].mean(0), rtol=1e-6)  # bank ##s averaged
    elmo = StandInElmo()
    assert vectors.word_vectors(elmo, "The Bank, of it.").words == ["the", "bank", "of", "it"]
    assert vectors.form(bert, "Banks") == "banks" and vectors.form(elmo, " Bank ") == "bank"


# -------------------------------------------------------------------------------------------------- contexts
def test_contexts_static_layer_is_all_ones_and_the_contextual_ones_are_not():
    elmo, bert = StandInElmo(), StandInBert()
    reps = contexts.representations({"elmo": elmo}, {"bert": bert})
    assert [(r.label, r.layer) for r in reps] == [
        ("static (elmo layer 0)", 0),
        ("elmo layer 1", 1),
        ("elmo layer 2", 2),
        ("elmo mix", -1),
        ("bert layer 2", -1),
    ]
    c = contexts.compare("bank", [*BANK, "The bank of the river."], reps)
    static, *contextual = c.representations
    assert np.allclose(static.matrix, 1.0) and static.written == ["bank", "bank", "bank"]
    assert all(r.separation is None for r in c.representations)  # the sentences carry no sense labels
    for rep in contextual:
        m = np.array(rep.matrix)
        assert m.shape == (3, 3) and np.allclose(np.diag(m), 1.0) and np.allclose(m, m.T) and (m < 0.999).any()
    assert elmo.calls == 3  # one pass per sentence serves every ELMo representation
    # without an ELMo the static layer is the first BERT's layer 0
    assert [r.label for r in contexts.representations({}, {"b1": bert, "b2": bert})][0] == "static (b1 layer 0)"


def test_a_request_that_may_compile_waits_for_the_warm_up_running_then_not_for_all_of_them():
    import threading
    import time

    from space.models import Registry

    events, started = [], threading.Event()

    def slow():
        started.set()
        time.sleep(0.3)
        events.append("slow done")

    registry = Registry(later=[("slow", slow), ("next", lambda: events.append("next"))])
    registry.warm_first("contexts", lambda: events.append("contexts"))
    registry.start_background()
    started.wait(10)
    with registry.compiling():
        events.append("request")
    registry.close()
    assert events == ["contexts", "slow done", "request", "next"]
    with pytest.raises(RuntimeError, match="before start_background"):
        registry.warm_first("late", lambda: None)
    with registry.compiling():  # settled: nothing to wait for
        pass


def test_an_inside_request_just_after_start_up_waits_for_one_warm_up_not_all():
    import threading

    from space import handlers
    from space.models import Registry

    events, started, gates = [], threading.Event(), {"first": threading.Event(), "last": threading.Event()}

    def warm(name):
        def run():
            started.set()
            if gates[name].wait(30):  # each warm-up runs until the test lets it end
                events.append(name)

        return run

    registry = Registry(berts={"bert": StandInBert()}, later=[("first", warm("first")), ("last", warm("last"))])
    registry.start_background()
    assert started.wait(10)  # the first warm-up is running
    answer = {}
    request = threading.Thread(
        target=lambda: (
            answer.update(handlers.Handlers(registry).embed("the bank", "bert", 0)),
            events.append("request"),
        )
    )
    request.start()
    request.join(0.3)
    assert request.is_alive() and events == []  # it waits for the warm-up running
    gates["first"].set()
    request.join(30)
    assert not request.is_alive() and events == ["first", "request"]  # and not for the one still held
    gates["last"].set()
    registry.close()
    assert answer["tokens"] == ["[CLS]", "the", "bank", "[SEP]"] and events == ["first", "request", "last"]


@pytest.mark.parametrize(
    "word,sentences,message",
    [
        ("bank", ["the bank", "the river"], "sentence 2 ('the river') does not contain the word 'bank'"),
        ("bank", ["the bank"], "give 2 to 6 sentences"),
        ("bank", ["the bank"] * 7, "give 2 to 6 sentences"),
        ("river bank", ["the river bank", "a river bank"], "word must be one word"),
        ("bank", ["the banking day", "the bank"], "sentence 1 ('the banking day') does not contain"),
    ],
)
def test_contexts_refuse_bad_input_naming_the_sentence(word, sentences, message):
    reps = contexts.representations({"elmo": StandInElmo()}, {"bert": StandInBert()})
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        contexts.compare(word, sentences, reps)


# -------------------------------------------------------------------------------------------------- reference
def test_reference_nearest_ties_at_layer_zero_and_embeds_the_set_once():
    ref = reference.Reference(
        ["She put her money in the bank.", "She sat on the bank of the river.", "A good day."],
        [{"bank": "money"}, {"bank": "river"}, {}],
    )
    elmo = StandInElmo()
    assert not ref.ready(elmo)
    words = vectors.word_vectors(elmo, "She put her money in the bank.", (0, -1))
    at = words.words.index("bank")
    static = ref.nearest(elmo, 0, words.vectors[0][at], k=3)
    # a tie, context-free: both occurrences are the query's own vector, so float32 rounding may order them either way
    assert sorted(n.label for n in static[:2]) == ["bank (money)", "bank (river)"]
    # cosine 1 within float32 rounding (~1e-7), which nearest's 4 decimals show as 1.0 or 0.9999
    for tied in static[:2]:
        assert tied.similarity == pytest.approx(1.0, abs=1e-4)
    assert static[2].similarity < 0.999
    mixed = ref.nearest(elmo, -1, words.vectors[-1][at], k=2)
    assert mixed[0].label == "bank (money)" and mixed[0].similarity > mixed[1].similarity  # the sentence's own sense
    assert mixed[0].sentence == "She put her money in the bank."
    assert ref.ready(elmo) and elmo.calls == 1 + 3  # the set was embedded once, for both layers
    ref.nearest(elmo, 0, words.vectors[0][at])
    assert elmo.calls == 4


def test_stored_vectors_answer_without_the_model_and_only_for_its_weights(tmp_path):
    from inside import stored

    (tmp_path / "model.weights.h5").write_bytes(b"weights")
    elmo = StandInElmo(folder=str(tmp_path))
    elmo.mix_weights, elmo.mix_scale = None, 1.0  # as an lm.bilm.BiLanguageModel without mix.json
    sentences = ["She put her money in the bank.", "A good day."]
    stored.write(elmo, sentences, extra=["She sat on the bank of the river.", "A good day."])
    ref = reference.Reference(sentences, [{"bank": "money"}, {}])
    calls = elmo.calls
    assert ref.load([elmo]) == [elmo] and ref.ready(elmo)
    assert ref.is_stored(elmo, BANK, (0, 1, 2, -1)) and not ref.is_stored(elmo, ["The bank."], (-1,))
    got = ref.word_vectors(elmo, BANK, (-1,))
    assert elmo.calls == calls  # read, not run
    fresh = vectors.word_vectors_many(elmo, BANK, (-1,))
    assert [w.words for w in got] == [w.words for w in fresh]
    np.testing.assert_allclose(got[1].vectors[-1], fresh[1].vectors[-1], rtol=2e-3, atol=2e-3)  # float16
    assert ref.nearest(elmo, -1, fresh[0].vectors[-1][-1], k=1)[0].label == "bank (money)"
    assert reference.Reference(sentences[:1]).load([elmo]) == []  # written for other sentences: not used
    (tmp_path / "model.weights.h5").write_bytes(b"retrained")  # nor for other weights
    assert reference.Reference(sentences).load([elmo]) == []


def test_the_senses_reference_reads_the_data_set():
    ref = reference.Reference.senses(per_sense=2)
    assert len(ref) == 108 and ref.senses[0] == {"bank": "money"}
    assert len(reference.Reference.senses()) == 270


# -------------------------------------------------------------------------------------------------- attention
def test_attention_maps_dispatch_and_focus():
    bert = StandInBert()
    out = attention.attention(bert, "the bank [MASK]")
    assert out["tokens"] == ["[CLS]", "the", "bank", "[MASK]", "[SEP]"]
    w = np.array(out["attention"])
    assert w.shape == (2, 2, 5, 5) and np.allclose(w.sum(-1), 1.0, atol=1e-4)
    m = attention.maps(bert, "the bank")
    assert not m.causal and m.map(0).shape == (4, 4) and np.allclose(m.map(1, head=1), 0.25)
    weights = np.array([[1.0, 0, 0], [0.2, 0.8, 0], [0.1, 0.6, 0.3]])
    assert attention.focus(["a", "b", "c"], weights, 2, k=2) == [("b", 0.6), ("c", 0.3)]
    with pytest.raises(ValueError, match="has no attention"):
        attention.maps(StandInElmo(), "the bank")


# -------------------------------------------------------------------------------------------------- the handlers
@pytest.fixture
def h():
    from space import handlers
    from space.models import Registry

    return handlers.Handlers(Registry(encoders={"elmo": StandInElmo()}, berts={"bert": StandInBert()}))


def test_handlers_contexts_and_nearest(h):
    c = h.contexts("bank", "[money] She put her money in the bank.\n\n  [river] She sat on the bank of the river.  \n")
    assert c.sentences == BANK and c.senses == ["money", "river"]
    assert [r.label for r in c.representations] == [
        "static (elmo layer 0)",
        "elmo layer 1",
        "elmo layer 2",
        "elmo mix",
        "bert layer 2",
    ]
    assert all(r.separation is None for r in c.representations)  # one cross-sense pair and no same-sense one
    rows = h.nearest(c)
    assert len(rows) == 2 * 5 and rows[0][:2] == ["1", "static (elmo layer 0)"]
    assert rows[0][2].startswith("bank (") and rows[0][2].count(" · ") == 2  # three nearest, by label


@pytest.mark.parametrize(
    "word,sentences,message",
    [
        ("", "a\nb", "word is empty"),
        ("b" * 41, "a\nb", "word is too long: 41 characters, the limit is 40"),
        ("bank", "the bank\n" + "x" * 301, "sentence 2 is too long: 301 characters, the limit is 300"),
        ("bank", "the bank\nthe river", "sentence 2 ('the river') does not contain the word 'bank'"),
        ("bank", "the bank", "give 2 to 6 sentences"),
        ("bank", 5, "sentences must be text"),
    ],
)
def test_handlers_contexts_refuse_by_name(h, word, sentences, message):
    import gradio as gr

    with pytest.raises(gr.Error) as e:
        h.contexts(word, sentences)
    assert message in str(e.value)


def test_handlers_gates_and_attention_say_what_is_missing(h):
    import gradio as gr

    with pytest.raises(gr.Error, match="no LSTM language model is loaded"):
        h.gates("ROMEO:\n", None)
    with pytest.raises(gr.Error, match="is an ELMo .*: /attention takes a Transformer language model or a BERT"):
        h.attention("the bank", "elmo")
    assert h.attention("the bank")["tokens"] == ["[CLS]", "the", "bank", "[SEP]"]  # the BERT: no LM here
    with pytest.raises(gr.Error, match="text is 34 tokens for bert; /embed takes at most 32"):
        h.embed("the " * 32, "bert")  # the model's own length (32 positions) is below the endpoint's 128


# -------------------------------------------------------------------------------------------------- cells, pictures
def test_gate_view_picks_one_cell_per_feature_and_the_layer_means():
    """gate_view over stand-in gates: the cell find_cells names per feature, its c_t, and the mean rows."""
    from lm import inside as lm_inside

    text = "AB:\nab cd\nef\n\nCD:\ngh\n"
    n, units = len(text), 5
    rng = np.random.default_rng(0)
    g = lm_inside.Gates(list(text), *(rng.uniform(0.01, 0.99, (2, n, units)) for _ in range(5)), logits=None)
    found = {"line position": [(1, 3, 0.9)], "speech turn": [(0, 2, -0.95)]}
    patch = pytest.MonkeyPatch()
    patch.setattr(lm_inside, "gates", lambda m, t: g)
    patch.setattr(lm_inside, "find_cells", lambda m, t, top=1: found)
    try:
        view = cells.gate_view(object(), text)
    finally:
        patch.undo()
    assert [(c.feature, c.layer, c.unit) for c in view.cells] == [("speech turn", 0, 2), ("line position", 1, 3)]
    np.testing.assert_array_equal(view.cells[1].values, g.cell[1, :, 3])
    assert view.rows == ["L0 u2", "L1 u3", "L0 mean", "L1 mean"]
    assert view.gates["forget"].shape == (4, n)
    np.testing.assert_allclose(view.gates["input"][3], g.input[1].mean(-1))


def test_pictures_are_drawn_for_phone_width():
    from space import plots

    sim = plots.similarity_heatmap([[1, 0.3], [0.3, 1]], ["1", "2"], "elmo mix")
    causal = np.tril(np.ones((64, 64))) / np.arange(1, 65)[:, None]
    att = plots.attention_heatmap(causal, ["\n", " "] + list("x" * 62), ["a"] * 64, "layer 1", vmax=0.2)
    gates = plots.gates_heatmap(
        {g: np.full((3, 60), 0.5) for g in cells.GATES}, ["L0 u1", "L0 mean", "L1 mean"], list("y" * 60)
    )
    for fig in (sim, att, gates):
        assert fig.get_figwidth() <= plots.MAX_WIDTH + 1e-6
    assert [t.get_text() for t in att.axes[0].get_yticklabels()[:1]] == ["⏎"]
    for fig in (att, gates):  # labels no smaller than LABEL_SIZE, thinned to as many as fit along each axis
        for ax in fig.axes[:1]:
            for ticks, length in ((ax.get_xticklabels(), ax.get_position().width * fig.get_figwidth()),):
                assert all(t.get_fontsize() >= plots.LABEL_SIZE for t in ticks)
                assert len(ticks) <= length * 72 / (plots.LABEL_SIZE * plots.LABEL_SPACING) + 1
    small = plots.attention_heatmap(np.eye(12), list("abcdefghijkl"), list("abcdefghijkl"))
    assert len(small.axes[0].get_xticklabels()) == 12  # a short text: every token labelled
    joined = plots.attention_heatmap(np.eye(300), [f"t{i}" for i in range(300)], [f"s{i}" for i in range(300)])
    labels = [t.get_text() for t in joined.axes[0].get_xticklabels()]  # a long text: every k-th, readable
    assert (
        labels[:2] == ["s0", labels[1]] and 10 <= len(labels) <= 45 and joined.get_figwidth() <= plots.MAX_WIDTH + 1e-6
    )
    with pytest.raises(ValueError, match="does not match"):
        plots.similarity_heatmap([[1, 0], [0, 1]], ["1"])


def test_the_page_builds_with_the_inside_tab_over_any_models(tmp_path):
    """ui.build over stand-ins (an ELMo, a BERT, a Transformer LM, no LSTM): the Inside tab's views, the eight
    public endpoints, and what the Attention view says of a causal map and of BERT's [MASK] and [CLS]."""
    from space import inside_tab, ui
    from space.models import Registry

    folder = str(tmp_path)  # a model folder without a loss curve
    lm = types.SimpleNamespace(
        name="gpt",
        kind="lm",
        folder=folder,
        config=types.SimpleNamespace(arch="transformer", layers=2, heads=2, vocab_size=10, level="char", seq_len=8),
        context_length=8,
        card="",
    )
    encoders, berts = {"elmo": StandInElmo(folder=folder)}, {"bert": StandInBert(folder=folder)}
    registry = Registry(lms={"gpt": lm}, encoders=encoders, berts=berts)
    demo = ui.build(registry)
    config = str(demo.config)
    for text in ("Contexts", "Attention", "LSTM gates", "No LSTM language model is loaded", "/embed"):
        assert text in config, text
    apis = {d.get("api_name") for d in demo.config["dependencies"] if d.get("api_visibility") == "public"}
    assert apis == set(ui.API)
    causal = np.tril(np.ones((3, 3))) / np.arange(1, 4)[:, None]
    assert "the triangle above the diagonal is empty" in inside_tab._attention_note("gpt", list("abc"), causal, True)
    tokens = ["[CLS]", "the", "[MASK]", "[SEP]"]
    note = inside_tab._attention_note("bert", tokens, np.full((4, 4), 0.25), False)
    assert "`[MASK]` (token 2) attends most to" in note and "`[CLS]` (the sentence's summary token)" in note
    strip = inside_tab._strip_html(list("a<\n"), [1.0, 0.0, -1.0])
    assert "&lt;" in strip and "⏎" in strip and strip.count("<span") == 3
