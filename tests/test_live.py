"""live/: a watched pretraining job. Fast: every bad input, the baselines, the matched parameter counts, the
store's expiry; slow: real jobs through the app's /train (gradio_client on a real server), their live names in
/fill_mask and /generate, the zip as a loadable model folder, and Stop / a closed client ending the process."""

import os
import random
import zipfile

import numpy as np
import pytest

from live import Expired, LiveError, Request, Runner, Store, baselines, documents, tasks
from live.inputs import MAX_BYTES, read_upload

WORDS = "the king and queen of the land said unto them that light was good in the morning and night".split()


def sentences(n: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    return "\n".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 12))) + " ." for _ in range(n)) + "\n"


# ------------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "request_, message",
    [
        (Request(kind="gpt", corpus="kjv"), "kind must be bert or lm"),
        (Request(kind="bert", text="   \n "), "text is empty"),
        (Request(kind="bert"), "give a text"),
        (Request(kind="bert", corpus="nope"), "not one of the bundled corpora"),
        (Request(kind="bert", corpus="kjv", seconds=5), "between 10 and 120"),
        (Request(kind="lm", corpus="kjv", seconds=500), "between 10 and 120"),
        (Request(kind="lm", corpus="kjv", seconds="x"), "seconds must be a number"),
        (Request(kind="bert", text="a short text .\n" * 20), "bert needs at least 20,000 characters"),
        (Request(kind="lm", text="tiny"), "lm needs at least 3,000 characters"),
        (Request(kind="lm", text="x" * (MAX_BYTES + 1)), "too large"),
        (Request(kind="lm", text="text", corpus="kjv"), "either text or corpus"),
    ],
)
def test_bad_requests_are_refused_by_name(request_, message):
    with pytest.raises(LiveError, match=message):
        request_.validate()


def test_uploads_must_be_utf8_text(tmp_path):
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\x00\x00")
    (tmp_path / "good.txt").write_text("café\n", encoding="utf-8")
    with pytest.raises(LiveError, match="not UTF-8"):
        read_upload(str(tmp_path / "latin1.txt"))
    with pytest.raises(LiveError, match="binary"):
        read_upload(str(tmp_path / "binary.txt"))
    assert read_upload(str(tmp_path / "good.txt")) == "café\n"


def test_a_busy_runner_answers_at_once(tmp_path):
    runner = Runner(root=str(tmp_path))
    job = runner.start(Request(kind="lm", text=sentences(300), seconds=10))
    try:
        with pytest.raises(LiveError, match="busy"):
            runner.start(Request(kind="lm", text=sentences(300), seconds=10))
        assert job.alive  # told at once: the refusal did not wait for the running job to end
    finally:
        job.close()
    assert not job.alive


def test_the_next_requests_wait_in_a_queue_with_their_place_and_one_past_it_is_busy(tmp_path):
    runner = Runner(root=str(tmp_path), waiting=2)
    job = runner.start(Request(kind="lm", text=sentences(300), seconds=10))
    try:
        second = runner.train(Request(kind="lm", text=sentences(300), seconds=10))
        third = runner.train(Request(kind="bert", corpus="kjv", seconds=10))
        assert (next(second)["position"], next(third)["position"]) == (1, 2)
        state = next(third)
        assert state["status"] == "queued" and "number 2" in state["stage"] and state["models"] == []
        with pytest.raises(LiveError, match="busy: .*2 more waiting"):
            next(runner.train(Request(kind="lm", text=sentences(300), seconds=10)))
        assert job.alive  # told at once, while the running job still runs
        second.close()  # a visitor who leaves the queue: the one behind moves up
        assert next(third)["position"] == 1 and len(runner.queue) == 1
        third.close()
        assert runner.queue == []
    finally:
        job.close()
    assert not job.alive


# ------------------------------------------------------------------------------------- baselines and data
def test_lm_baselines_are_chance_and_the_unigram_counter():
    train = np.array([1, 1, 1, 2])  # counts + 1: [1, 4, 2] -> p = [1/7, 4/7, 2/7]
    got = baselines.lm_baselines(train, np.array([[1, 2, 0]]), np.array([[1.0, 1.0, 0.0]]), 3)
    assert got["chance_loss"] == pytest.approx(np.log(3), abs=1e-4)
    assert got["unigram_loss"] == pytest.approx(-(np.log(4 / 7) + np.log(2 / 7)) / 2, abs=1e-4)


def test_bert_baselines_skip_special_tokens():
    x = {}
    y = {"mlm": np.array([[7, 7, 0]]), "nsp": np.array([0, 1, 1])}
    w = {"mlm": np.array([[1.0, 1.0, 0.0]])}
    got = baselines.bert_baselines(np.array([7, 7, 8, 2, 2, 2]), [(x, y, w)], 10, range(5))
    assert got["unigram_mlm_accuracy"] == pytest.approx(1.0)  # 7 is the commonest non-special token
    assert got["chance_mlm_accuracy"] == pytest.approx(1 / 5, abs=1e-4)
    assert got["unigram_nsp_accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert np.isfinite(got["unigram_mlm_loss"])


def test_the_lstm_matches_the_transformers_parameter_count():
    from lm.model import build

    vocab = 65
    t = tasks.TRANSFORMER.__class__(**{**tasks.TRANSFORMER.__dict__, "vocab_size": vocab})
    lstm = tasks.matched_lstm(t, vocab)
    lstm.vocab_size = vocab
    t_params, l_params = build(t).count_params(), build(lstm).count_params()
    assert t_params == tasks.transformer_parameters(t, vocab)
    assert l_params == tasks.lstm_parameters(lstm.dim, lstm.layers, vocab)
    assert abs(l_params - t_params) / t_params < 0.02


def test_pasted_text_becomes_documents(tmp_path):
    import corpus

    text = sentences(300) + "A long line. " * 40
    folder = documents.write_documents(str(tmp_path / "c"), text=text)
    docs = corpus.load(folder)
    assert len(docs) >= 10
    assert all(len(line) <= documents.LONG_LINE for d in docs for line in d.text.splitlines())
    train, val = corpus.split(docs)
    assert train and val


# ------------------------------------------------------------------------------------------------ the store
def _fake_folder(root, name):
    folder = os.path.join(root, name)
    os.makedirs(os.path.join(folder, "checkpoint-3"))
    open(os.path.join(folder, "config.json"), "w").write("{}")
    return folder


def test_live_models_expire_after_their_last_use_and_least_recent_first(tmp_path):
    now = [0.0]
    store = Store(str(tmp_path / "models"), keep=60, most=2, clock=lambda: now[0])
    store.add("live-bert-a", _fake_folder(tmp_path, "a"), "bert")
    assert not os.path.exists(os.path.join(store.root, "live-bert-a", "checkpoint-3"))
    now[0] = 50
    store.get("live-bert-a")  # used: kept another 60 s
    now[0] = 100
    assert store.names() == ["live-bert-a"]
    now[0] = 111
    assert store.names() == []
    with pytest.raises(Expired, match="has expired"):
        store.get("live-bert-a")
    with pytest.raises(Expired, match="not a live model"):
        store.get("live-bert-zzz")
    for i, name in enumerate(("live-lm-1", "live-lm-2", "live-lm-3")):
        now[0] = 200 + i
        store.add(name, _fake_folder(tmp_path, name), "lm")
    assert store.names("lm") == ["live-lm-3", "live-lm-2"]  # the least recently used went
    assert store.has("live-lm-1") and not store.has("bert")


# ------------------------------------------------------------------------------ real jobs on a real server
def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
                cmd = open(f"/proc/{entry}/cmdline").read()
            except OSError:
                continue
            if int(stat[1]) == pid and "live.job" in cmd:
                found.append(int(entry))
    return found


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """The app's /train, /fill_mask, /next_sentence, /generate, /embed and /attention handlers on a real Gradio
    server (a free port, this process), serving no model but the live ones: the bundled and tiny test models are
    not needed."""
    import gradio as gr

    from space import server
    from space.handlers import Handlers
    from space.live_handlers import LiveHandlers
    from space.models import Registry
    from tests.apphelpers import free_port

    # niced, not SCHED_IDLE: beside the suite's other worker an idle-class job would barely run
    lh = LiveHandlers(Runner(root=str(tmp_path_factory.mktemp("live")), idle=False))
    h = Handlers(Registry(), live=lh.store)
    with gr.Blocks() as demo:
        gr.api(lh.train, api_name="train")
        for name in ("fill_mask", "next_sentence", "generate", "embed", "attention"):
            gr.api(getattr(h, name), api_name=name)
    port = free_port()
    server.launch(demo, "127.0.0.1", port)
    yield f"http://127.0.0.1:{port}/", lh, h
    demo.close()


@pytest.mark.slow
def test_a_bert_job_through_the_api_then_its_name_in_fill_mask_and_next_sentence(live_server):
    from gradio_client import Client

    url, lh, h = live_server
    client = Client(url, verbose=False)
    assert "/train" in str(client.view_api(print_info=False, return_format="dict"))

    job = client.submit(kind="bert", text=sentences(900), corpus=None, seconds=10, api_name="/train")
    updates = list(job)
    assert [u["status"] for u in updates][-1] == "done"
    seconds = [u["seconds"] for u in updates]
    assert seconds == sorted(seconds)
    steps = [u["metrics"][updates[0]["models"][0]].get("step", 0) for u in updates]
    assert steps == sorted(steps) and steps[-1] > 0
    last = updates[-1]
    (name,) = last["models"]
    m = last["metrics"][name]
    for key in ("heldout_mlm_accuracy", "unigram_mlm_accuracy", "heldout_nsp_accuracy"):
        assert 0 <= m[key] <= 1
    assert last["views"]["pair"]["pieces"][0] == "[CLS]"
    assert last["probe"]["answers"][name]["answer"]
    guesses = client.predict("the king and [MASK] of the land .", 5, name, api_name="/fill_mask")
    assert len(guesses) == 5 and all(0 <= p <= 1 for p in guesses.values())
    pair = client.predict("the king said .", "the queen said .", name, api_name="/next_sentence")
    assert pair["IsNext"] + pair["NotNext"] == pytest.approx(1.0)
    # the Inside views take it too: its vectors (/embed) and its attention maps (/attention)
    vectors = client.predict("the king said .", name, -1, api_name="/embed")
    assert vectors["tokens"] and len(vectors["vectors"]) == len(vectors["tokens"])
    maps = client.predict("the king said .", name, api_name="/attention")
    assert maps["tokens"] and len(maps["attention"]) == 2  # the live BERT's two layers

    assert not _children(os.getpid())


@pytest.mark.slow
def test_stop_exports_names_that_generate_and_a_closed_consumer_kills_the_process(live_server, tmp_path):
    """An LM job stopped once it has learnt something: both models kept under live names that /generate
    serves (and /fill_mask refuses by kind), the zip a loadable model folder; then a consumer that goes away."""
    from gradio_client import Client

    url, lh, h = live_server
    runner = lh.runner
    progress = runner.train(Request(kind="lm", text=sentences(400), seconds=120))
    for state in progress:  # stopped once both models are below chance on held-out text
        chance = {n: state["baselines"].get(n, {}).get("chance_loss", 0.0) for n in state["metrics"]}
        if chance and all(m.get("heldout_loss", 1e9) < chance[n] for n, m in state["metrics"].items()):
            assert runner.stop(state["models"][0])
            break
    states = list(progress)
    assert states[-1]["status"] == "stopped" and states[-1]["seconds"] < 120
    lstm, transformer = states[-1]["models"]
    for name in (lstm, transformer):
        assert states[-1]["metrics"][name]["heldout_loss"] < states[-1]["metrics"][name]["chance_loss"]
        assert "unigram_loss" in states[-1]["metrics"][name]
    client = Client(url, verbose=False)
    text = client.predict("the king", transformer, 20, 0.8, 0, 1.0, 1, api_name="/generate")
    assert isinstance(text, str) and text
    with pytest.raises(Exception, match="not a BERT"):
        client.predict("the [MASK] .", 5, lstm, api_name="/fill_mask")
    assert client.predict("the king", transformer, api_name="/attention")["attention"]  # the Inside views' too
    assert h.gates("the king\nsaid", lstm).gates  # the LSTM gates view (the UI's, not an API endpoint)
    with pytest.raises(Exception, match="is a live"):
        client.predict("the king", lstm, api_name="/attention")
    path = runner.store.zip(transformer)
    with zipfile.ZipFile(path) as z:
        z.extractall(tmp_path / "unzipped")
    from core import model

    m = model.load(str(tmp_path / "unzipped" / transformer))
    assert m.kind == "lm" and m.generate("the", max_new_tokens=5, seed=1)

    progress = runner.train(Request(kind="lm", text=sentences(400), seconds=60))
    next(progress)
    job = runner.running[-1]
    progress.close()  # what Gradio does when the client goes away
    assert not job.alive and not os.path.exists(job.work)
