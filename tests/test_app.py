"""The app as users and API clients meet it: `python app.py` as a real server, called through gradio_client.

No mocks: tiny models are trained for the session (see apphelpers.py) and served by app.py in a subprocess
(those tests are marked slow). The handlers and the chat framing are also tested in process, quickly: over
registries of small stand-in LMs (real tokenizers) and plain functions.
"""

import json
import math
import os
import re
import subprocess
import sys
import threading
import time
import types
import urllib.request

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apphelpers  # noqa: E402

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from gradio_client import Client  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

API_NAMES = {
    "/chat",
    "/generate",
    "/fill_mask",
    "/next_sentence",
    "/classify",
    "/translate",
    "/embed",
    "/attention",
    "/train",
}


slow = pytest.mark.slow  # every test that starts or calls the app server


@pytest.fixture(scope="session")
def server():
    return apphelpers.shared_server()


@pytest.fixture(scope="session")
def client(server):
    return Client(server.url, verbose=False)


@pytest.fixture(scope="session")
def model_names(client):
    """The loaded LM names, read from the /chat error for an unknown model (the public way to learn them)."""
    with pytest.raises(AppError) as e:
        client.predict("hello", "no-such-model", api_name="/chat")
    names = re.search(r"choose one of: (.*)$", str(e.value)).group(1).split(", ")
    assert len(names) >= 2
    return names


# ---------------------------------------------------------------- API surface


@slow
def test_view_api_lists_exactly_the_nine_endpoints(client):
    info = client.view_api(return_format="dict", print_info=False)
    assert set(info["named_endpoints"]) == API_NAMES
    assert not info["unnamed_endpoints"]
    params = {name: [p["parameter_name"] for p in e["parameters"]] for name, e in info["named_endpoints"].items()}
    assert params == {
        "/chat": ["message", "model", "max_new_tokens", "temperature", "top_k", "top_p"],
        "/generate": ["prompt", "model", "max_new_tokens", "temperature", "top_k", "top_p", "seed"],
        "/fill_mask": ["text", "top_k", "model"],
        "/next_sentence": ["sentence_a", "sentence_b", "model"],
        "/classify": ["text"],
        "/translate": ["text", "model", "beam"],
        "/embed": ["text", "model", "layer"],
        "/attention": ["text", "model"],
        "/train": ["kind", "text", "corpus", "seconds"],
    }


@slow
def test_page_serves(server):
    html = urllib.request.urlopen(server.url, timeout=10).read().decode()
    assert "SeqLab" in html


# ---------------------------------------------------------------- /generate


@slow
def test_generate_returns_text_and_is_reproducible(client, model_names):
    for model in model_names:
        a = client.predict("ROMEO:\n", model, 40, 0.8, 0, 1.0, 7, api_name="/generate")
        b = client.predict(
            prompt="ROMEO:\n",
            model=model,
            max_new_tokens=40,
            temperature=0.8,
            top_k=0,
            top_p=1.0,
            seed=7,
            api_name="/generate",
        )
        assert isinstance(a, str) and a
        assert a == b, f"{model}: same prompt and seed gave different text"


@slow
def test_generate_defaults_and_greedy(client):
    text = client.predict("JULIET:\n", api_name="/generate")  # every parameter but the prompt has a default
    assert isinstance(text, str) and text
    greedy = [client.predict("JULIET:\n", max_new_tokens=30, temperature=0, api_name="/generate") for _ in range(2)]
    assert greedy[0] == greedy[1]


@slow
def test_generate_streams_with_submit(client):
    job = client.submit("ROMEO:\n", max_new_tokens=60, seed=1, api_name="/generate")
    parts = list(job)
    assert len(parts) > 3 and parts[-1] == job.result()
    assert all(parts[i + 1].startswith(parts[i]) for i in range(len(parts) - 1))


# ---------------------------------------------------------------- /chat


@slow
def test_chat_streams_partial_replies(client):
    arrivals, parts = [], []
    job = client.submit("Good morrow, fair lady.", None, 120, 1.0, 0, 1.0, api_name="/chat")
    for part in job:
        arrivals.append(time.perf_counter())
        parts.append(part)
    final = job.result()
    assert isinstance(final, str)
    assert len(parts) >= 3, f"expected several partial updates, got {parts!r}"
    assert parts[-1] == final
    assert arrivals[0] < arrivals[-1]
    # cumulative text: each update extends the previous one (the last may trim a trailing boundary)
    growing = parts[:-1]
    assert all(growing[i + 1].startswith(growing[i]) for i in range(len(growing) - 1))


@slow
def test_chat_reply_is_one_speech(client):
    """The reply ends at a natural boundary: no blank line and no `NAME:` speaker line inside it."""
    for seed_prompt in ("What say you, nurse?", "Speak soft, my love."):
        reply = client.predict(seed_prompt, None, 300, 1.0, 0, 1.0, api_name="/chat")
        assert "\n\n" not in reply
        assert not re.search(r"(^|\n)[A-Z][A-Za-z'.-]*( [A-Z][A-Za-z'.-]*){0,3}:[ \t]*\n", reply + "\n")


# ---------------------------------------------------------------- BERT endpoints


@slow
def test_fill_mask_one_mask_gives_a_mapping(client):
    result = client.predict("and the lord [MASK] unto them", 5, api_name="/fill_mask")
    assert isinstance(result, dict) and len(result) == 5
    probs = list(result.values())
    assert all(0 <= p <= 1 for p in probs) and probs == sorted(probs, reverse=True)
    assert "[MASK]" not in result


@slow
def test_fill_mask_several_masks_give_a_list(client):
    result = client.predict("the [MASK] said unto [MASK] and [MASK]", top_k=3, api_name="/fill_mask")
    assert isinstance(result, list) and len(result) == 3
    assert all(isinstance(r, dict) and len(r) == 3 for r in result)


@slow
def test_next_sentence(client):
    result = client.predict(
        "In the beginning God created the heaven and the earth.",
        "And the earth was without form, and void",
        api_name="/next_sentence",
    )
    assert set(result) == {"IsNext", "NotNext"}
    assert 0 <= result["IsNext"] <= 1 and math.isclose(result["IsNext"] + result["NotNext"], 1, abs_tol=1e-6)


@slow
def test_the_model_choice_reaches_the_bert_it_names(client):
    """Two BERTs (the tiny one first, so the default; the bundled `bert`) answer the same input differently, each
    as it does when named; a BERT that is not loaded gets the LM endpoints' error."""
    text = "in the beginning god created the [MASK] and the earth"
    default = client.predict(text, 5, api_name="/fill_mask")
    tiny = client.predict(text, 5, "tiny-bert", api_name="/fill_mask")
    bundled = client.predict(text, 5, "bert", api_name="/fill_mask")
    assert default == tiny and bundled != tiny
    a, b = "In the beginning God created the heaven and the earth.", "And the earth was without form, and void"
    pairs = [client.predict(a, b, m, api_name="/next_sentence")["IsNext"] for m in ("tiny-bert", "bert")]
    assert pairs[0] != pairs[1]
    for api, args in (("/fill_mask", (text, 5, "bert-nope")), ("/next_sentence", (a, b, "bert-nope"))):
        with pytest.raises(AppError, match="model 'bert-nope' is not loaded; choose one of: tiny-bert, bert"):
            client.predict(*args, api_name=api)


# ---------------------------------------------------------------- /embed, /attention (the Inside tab)


def _choices(client, api: str, *args) -> list[str]:
    """The models an endpoint takes, read from its error for an unknown model."""
    with pytest.raises(AppError) as e:
        client.predict(*args, "no-such-model", api_name=api)
    return re.search(r"choose one of: (.*)$", str(e.value)).group(1).split(", ")


@slow
def test_embed_layer_zero_is_context_free_and_the_last_layer_is_not(client):
    """The same word in two sentences: the same vector at layer 0, different ones at -1 (ELMo's mix, BERT's last
    layer), for every ELMo and BERT the server has; the default model is the ELMo, the default layer -1."""
    models = _choices(client, "/embed", "the light")
    assert models[:2] == ["tiny-elmo", "tiny-bert"]  # the ELMo first: it is the default
    a, b = "the light of the day was good", "god made the light and the darkness"
    for model in models:
        static = [client.predict(s, model, 0, api_name="/embed") for s in (a, b)]
        mixed = [client.predict(text=s, model=model, layer=-1, api_name="/embed") for s in (a, b)]
        i, j = (out["tokens"].index("light") for out in static)
        assert mixed[0]["tokens"] == static[0]["tokens"] and len(static[0]["vectors"]) == len(static[0]["tokens"])
        assert static[0]["vectors"][i] == static[1]["vectors"][j], f"{model}: layer 0 depends on the context"
        assert not np.allclose(mixed[0]["vectors"][i], mixed[1]["vectors"][j], atol=1e-4), model
        assert static[0]["vectors"][i] != mixed[0]["vectors"][i]
    default = client.predict(a, api_name="/embed")
    assert default == client.predict(a, "tiny-elmo", -1, api_name="/embed") and default["tokens"][1] == "light"


@slow
def test_attention_rows_sum_to_one_and_the_lm_is_causal(client):
    """The Transformer LM (the default) attends only backwards: rows sum to 1, the upper triangle is exactly 0;
    BERT's maps look both ways; 64 tokens of the bundled BERT (4 layers x 4 heads) answer in under 1 MB."""
    assert _choices(client, "/attention", "hi") == ["tiny-transformer", "tiny-bert", "bert"]
    out = client.predict("ROMEO:\nBut soft", api_name="/attention")
    w, n = np.array(out["attention"]), len(out["tokens"])
    assert out["tokens"] == list("ROMEO:\nBut soft") and w.ndim == 4 and w.shape[2:] == (n, n)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-3)
    above = np.triu(np.ones((n, n), bool), 1)
    assert (w[..., above] == 0).all() and (w[..., ~above] > 0).any()
    bert = client.predict("the lord [MASK] unto them", "tiny-bert", api_name="/attention")
    w = np.array(bert["attention"])
    assert bert["tokens"] == ["[CLS]", "the", "lord", "[MASK]", "unto", "them", "[SEP]"] and w.shape[2:] == (7, 7)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-3)
    assert (w[..., np.triu(np.ones((7, 7), bool), 1)] > 0).any()  # not causal: tokens see the later ones
    longest = client.predict("the " * 62, "bert", api_name="/attention")
    assert len(longest["tokens"]) == 64 and len(json.dumps(longest)) < 1_000_000
    with pytest.raises(AppError, match="text is 65 tokens for bert; /attention takes at most 64"):
        client.predict("the " * 63, "bert", api_name="/attention")


# ---------------------------------------------------------------- /classify


@slow
def test_classify_gives_positive_and_negative(client):
    result = client.predict("A gorgeous, moving film.", api_name="/classify")
    assert set(result) == {"positive", "negative"}
    assert 0 <= result["positive"] <= 1 and math.isclose(result["positive"] + result["negative"], 1, abs_tol=1e-9)
    assert client.predict(text="A gorgeous, moving film.", api_name="/classify") == result  # deterministic


# ---------------------------------------------------------------- bad input

BAD = [
    ("/chat", ("   ",), {}, "message is empty"),
    ("/chat", ("x" * 2001,), {}, "message is too long"),
    ("/chat", ("hi", "../../etc"), {}, "model '../../etc' is not loaded"),
    ("/chat", ("hi",), {"max_new_tokens": 0}, "max_new_tokens must be between 1 and 500"),
    ("/chat", ("hi",), {"top_p": 0.0}, "top_p must be in (0, 1]"),
    ("/generate", ("",), {}, "prompt is empty"),
    ("/generate", (12,), {}, "prompt must be text"),
    ("/generate", ("hi",), {"max_new_tokens": 501}, "max_new_tokens must be between 1 and 500"),
    ("/generate", ("hi",), {"max_new_tokens": 2.5}, "max_new_tokens must be a whole number"),
    ("/generate", ("hi",), {"max_new_tokens": "10"}, "max_new_tokens must be a number"),
    ("/generate", ("hi",), {"temperature": -0.1}, "temperature must be in [0, 2]"),
    ("/generate", ("hi",), {"temperature": 1e9}, "temperature must be in [0, 2]"),
    ("/generate", ("hi",), {"top_k": -1}, "top_k must be between 0 and"),
    ("/generate", ("hi",), {"top_k": 10**9}, "top_k must be between 0 and"),
    ("/generate", ("hi",), {"top_p": 1.5}, "top_p must be in (0, 1]"),
    ("/generate", ("hi",), {"seed": -5}, "seed must be between 0 and"),
    ("/generate", ("hi",), {"model": 3}, "model must be a model name"),
    ("/fill_mask", ("no mask here",), {}, "has no [MASK] token"),
    ("/fill_mask", ("[MASK] " * 6,), {}, "at most 5 are allowed"),
    ("/fill_mask", ("the [MASK]",), {"top_k": 0}, "top_k must be between 1 and 20"),
    ("/fill_mask", ("  ",), {}, "text is empty"),
    ("/fill_mask", ("[MASK] " + "x" * 2000,), {}, "text is too long"),
    ("/next_sentence", ("a sentence", ""), {}, "sentence_b is empty"),
    ("/next_sentence", (None, "b"), {}, "sentence_a must be text"),
    ("/classify", ("",), {}, "text is empty"),
    ("/classify", (" \t\n",), {}, "text is empty"),
    ("/classify", ("x" * 2001,), {}, "text is too long: 2,001 characters, the limit is 2,000"),
    ("/classify", (5,), {}, "text must be text (a string), got int"),
    ("/classify", (["a"],), {}, "text must be text (a string), got list"),
    ("/generate", ("hi",), {"max_new_tokens": 10**400}, "max_new_tokens must be between 1 and 500, got an integer"),
    ("/translate", ("",), {}, "text is empty"),
    ("/translate", ("the light " * 30,), {}, "over this model's limit"),
    ("/translate", ("the light",), {"model": "nope"}, "model 'nope' is not a loaded translator; choose one of:"),
    ("/translate", ("the light",), {"beam": 0}, "beam must be between 1 and 8"),
    ("/translate", ("the light",), {"beam": 9}, "beam must be between 1 and 8"),
    ("/translate", ("ЖЖЖ",), {}, "no known subwords"),
    ("/embed", ("",), {}, "text is empty"),
    ("/embed", ("x" * 2001,), {}, "text is too long"),
    ("/embed", ("the light",), {"model": "nope"}, "model 'nope' is not loaded; choose one of: tiny-elmo, tiny-bert"),
    ("/embed", ("the light",), {"model": "tiny-lstm"}, "is an LSTM language model: /embed takes an ELMo or a BERT"),
    ("/embed", ("the light",), {"layer": 3}, "layer must be between -1 (ELMo's mix) and 2 for tiny-elmo"),
    ("/embed", ("the light",), {"model": "tiny-bert", "layer": -2}, "layer must be between -1 (the last layer) and 1"),
    ("/embed", ("the light",), {"layer": 0.5}, "layer must be a whole number"),
    ("/embed", ("the light",), {"layer": "0"}, "layer must be a number"),
    ("/embed", ("the " * 129,), {}, "text is 129 tokens for tiny-elmo; /embed takes at most 128"),
    ("/attention", ("",), {}, "text is empty"),
    ("/attention", (None,), {}, "text must be text"),
    ("/attention", ("x" * 65,), {}, "text is 65 tokens for tiny-transformer; /attention takes at most 64"),
    ("/attention", ("hi", "tiny-lstm"), {}, "is an LSTM language model: /attention takes a Transformer language model"),
    ("/attention", ("hi", "tiny-elmo"), {}, "'tiny-elmo' is an ELMo (a bidirectional LSTM language model): /attention"),
    ("/attention", ("hi", "nope"), {}, "model 'nope' is not loaded; choose one of: tiny-transformer, tiny-bert, bert"),
]


@slow
@pytest.mark.parametrize("api,args,kwargs,message", BAD, ids=[f"{b[0]}-{b[3][:30]}" for b in BAD])
def test_bad_input_is_refused_with_a_clear_error(client, api, args, kwargs, message):
    with pytest.raises(AppError) as e:
        client.predict(*args, **kwargs, api_name=api)
    assert message in str(e.value)


@slow
def test_translate_answers_with_each_translator_and_beam_1_is_greedy(client):
    with pytest.raises(AppError) as e:
        client.predict("the light", "no-such-translator", api_name="/translate")
    names = re.search(r"choose one of: (.*)$", str(e.value)).group(1).split(", ")
    assert len(names) == 2  # the test app serves a tiny rnn and a tiny transformer
    for name in names:
        out = client.predict("the good lord said", name, 4, api_name="/translate")
        assert isinstance(out, str)
        assert client.predict("the good lord said", name, 1, api_name="/translate") == client.predict(
            "the good lord said", name, 1, api_name="/translate"
        )
    assert isinstance(client.predict("the light", api_name="/translate"), str)  # model and beam default
    # a text over the tiny translators' limit is translated in runs of whole sentences, not refused
    long = " ".join(["And the good lord said unto them."] * 6)
    assert client.predict(long, None, 1, api_name="/translate").strip()


@slow
def test_server_keeps_serving_after_errors(client):
    for api, args, kwargs, _ in BAD[:5]:
        with pytest.raises(AppError):
            client.predict(*args, **kwargs, api_name=api)
    assert isinstance(client.predict("ROMEO:\n", max_new_tokens=5, api_name="/generate"), str)
    assert isinstance(client.predict("the [MASK]", api_name="/fill_mask"), dict)


@slow
@pytest.mark.parametrize("value,shown", [("NaN", "nan"), ("Infinity", "inf"), ("-Infinity", "-inf")])
def test_non_finite_numbers_are_refused(server, value, shown):
    """gradio_client cannot send NaN (JSON has none), but a raw HTTP client can: the server refuses it."""
    body = f'{{"data": ["hi", null, 10, {value}, 0, 1.0, null]}}'.encode()
    request = urllib.request.Request(
        server.url + "gradio_api/call/generate", data=body, headers={"Content-Type": "application/json"}
    )
    event = json.loads(urllib.request.urlopen(request, timeout=10).read())["event_id"]
    stream = urllib.request.urlopen(f"{server.url}gradio_api/call/generate/{event}", timeout=30).read().decode()
    assert "event: error" in stream and f"temperature must be a finite number, got {shown}" in stream


@slow
@pytest.mark.parametrize(
    "api,data,message",
    [
        ("classify", ["\ud800 bad"], "text is not valid Unicode: a lone surrogate '\\ud800' at character 0"),
        ("generate", ["a\udfff", None, 5, 0.8, 0, 1.0, None], "prompt is not valid Unicode"),
        ("fill_mask", ["the [MASK] \udc80", 5, None], "text is not valid Unicode"),
    ],
)
def test_lone_surrogates_are_refused(server, api, data, message):
    """JSON can carry a lone surrogate (\\ud800), which no tokenizer takes; gradio_client cannot send one
    (it fails to encode it), a raw HTTP client can: the server refuses it by name."""
    body = json.dumps({"data": data}, ensure_ascii=True).encode()  # the surrogate as a \\udXXX escape
    request = urllib.request.Request(
        server.url + f"gradio_api/call/{api}", data=body, headers={"Content-Type": "application/json"}
    )
    event = json.loads(urllib.request.urlopen(request, timeout=10).read())["event_id"]
    stream = urllib.request.urlopen(f"{server.url}gradio_api/call/{api}/{event}", timeout=30).read().decode()
    error = re.search(r"^event: error\ndata: (.*)$", stream, re.M)
    assert error and message in json.loads(error.group(1))["error"], stream


# ---------------------------------------------------------------- cancel, queue


def _wait_first_output(job, timeout=30):
    start = time.perf_counter()
    while not job.outputs():
        assert time.perf_counter() - start < timeout and not job.done(), "no output from a running job"
        time.sleep(0.01)


@slow
def test_cancel_stops_generation_and_frees_the_workers(client, server):
    """Cancel (the Stop button's API twin) ends the generators mid-way (the server says so, before their 500 tokens)
    and the next request is answered. (How soon is a benchmark's question: a test asserts no speed.)"""
    log_before = server.log_text().count("stopped by the client")
    # /generate runs its 500 tokens for sure (a /chat reply may end at its speech's end before the cancel)
    jobs = [
        client.submit("ROMEO:\n", max_new_tokens=500, temperature=1.0, api_name="/generate"),
        client.submit("JULIET:\n", max_new_tokens=500, temperature=1.0, api_name="/generate"),
    ]
    for job in jobs:  # both workers (concurrency limit 2) are busy generating
        _wait_first_output(job)
    for job in jobs:
        job.cancel()
    text = client.predict("JULIET:\n", max_new_tokens=5, seed=0, api_name="/generate")
    assert isinstance(text, str)
    _wait_for_stops(server, log_before + 2)
    stops = re.findall(r"(generate|chat) stopped by the client after (\d+) tokens", server.log_text())
    assert all(int(n) < 500 for _, n in stops[log_before:])


def _wait_for_stops(server, count: int, timeout: float = 60) -> None:
    """Wait until the server's log says `count` generators in all were stopped by their client."""
    deadline = time.monotonic() + timeout
    while server.log_text().count("stopped by the client") < count:
        assert time.monotonic() < deadline, "the cancelled generators were not closed"
        time.sleep(0.1)


@slow
def test_cancel_chat_then_chat_again(client):
    """A chat cancelled mid-reply leaves the next chat answered (its reply may have ended at its speech's end
    before the cancel arrived, so the server's log need not say it was stopped)."""
    job = client.submit("Good morrow.", None, 500, 1.0, 0, 1.0, api_name="/chat")
    _wait_first_output(job)
    job.cancel()
    assert isinstance(client.predict("Speak again.", None, 10, api_name="/chat"), str)


def _engines_ready(server, timeout: float = 120) -> None:
    """The app is up before its LM engines are built (in the background); wait for them."""
    if not server.log_text():  # an external server (SEQLAB_TEST_URL): no log to read
        return
    deadline = time.perf_counter() + timeout
    while "LM engines ready" not in server.log_text():
        assert time.perf_counter() < deadline, "the LM engines were not built"
        time.sleep(0.2)


@slow
def test_full_queue_answers_busy_not_hang(server):
    """More streams than the LM engine holds (16 decoding, 16 waiting): the extra ones are told 'busy', at once."""
    _engines_ready(server)
    client = Client(server.url, verbose=False)
    jobs = [client.submit("ROMEO:\n", max_new_tokens=500, api_name="/generate") for _ in range(40)]
    busy = []
    try:
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline and len(busy) < 2:
            busy = [j for j in jobs if j.done() and j.exception() is not None and "busy: " in str(j.exception())]
            time.sleep(0.1)
        assert len(busy) >= 2, "expected the overflow to be refused as busy"
    finally:
        for job in jobs:
            job.cancel()
    # and the server recovers, once the cancelled jobs have ended
    deadline = time.monotonic() + 60
    while not all(job.done() for job in jobs):
        assert time.monotonic() < deadline, "cancelled jobs did not end"
        time.sleep(0.1)
    assert isinstance(Client(server.url, verbose=False).predict("the [MASK]", api_name="/fill_mask"), dict)


@slow
def test_concurrent_requests_all_answered(server):
    client = Client(server.url, verbose=False)
    results, errors = [], []

    def call(i):
        try:
            results.append(client.predict(f"ROMEO:\n{i}", max_new_tokens=20, seed=i, api_name="/generate"))
        except Exception as e:  # noqa: BLE001 - collected and reported
            errors.append(e)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and len(results) == 6


# ---------------------------------------------------------------- start-up, deploy


@slow
def test_startup_log_and_first_requests(server, client):
    """Every model is loaded before the app says it is ready, the LMs and the default BERT warmed; the translators
    and the other BERTs are warmed just after, in the background; the first request on a path the warm-up ran
    answers as the later ones do. (How fast it answers is measured in bench/app_startup.py, not here.)"""
    log = server.log_text()
    assert "SeqLab ready on" in log
    if isinstance(server, apphelpers.AppServer):
        assert log.index("loaded classifier") < log.index("SeqLab ready on")
        assert log.count("loaded language model") >= 2 and "loaded bert model" in log
        assert "loaded elmo model" in log
        deadline = time.monotonic() + 120
        while "warmed after start-up" not in server.log_text() and time.monotonic() < deadline:
            time.sleep(0.5)
        warmed = re.search(r"warmed after start-up: (.*) in [0-9.]+ s", server.log_text())
        assert warmed, server.log_text()[-2000:]
        names = warmed.group(1).split(", ")
        assert sum("translate" in n for n in names) == 2 and any("bert" in n for n in names), names
        from space.models import BUNDLED_BERTS

        assert not {"tiny-bert", BUNDLED_BERTS[0]} & set(names)  # the default BERT is warmed before "ready"
    answers = [
        client.predict("NURSE:\n", max_new_tokens=20, top_k=5, top_p=0.9, seed=3, api_name="/generate")
        for _ in range(3)
    ]
    assert isinstance(answers[0], str) and answers[0] and answers.count(answers[0]) == 3


@slow
def test_a_model_may_be_named_by_the_folder_it_was_loaded_from(client, model_names):
    """The app lists a folder's LM by the folder's last part; the path it was given (SEQLAB_LM_MODELS) works too."""
    if os.environ.get("SEQLAB_TEST_MODELS") == "bundled" or os.environ.get("SEQLAB_TEST_URL"):
        pytest.skip("the shared server serves bundled names, not folders")
    folder = apphelpers.tiny_models()["transformer"]
    assert os.path.basename(folder) in model_names and folder not in model_names
    by_path = client.predict("ROMEO:\n", folder, 20, 0.8, 0, 1.0, 5, api_name="/generate")
    assert by_path == client.predict("ROMEO:\n", os.path.basename(folder), 20, 0.8, 0, 1.0, 5, api_name="/generate")
    assert isinstance(client.predict("Good morrow.", folder + "/", 10, api_name="/chat"), str)


@slow
@pytest.mark.skipif(not apphelpers.bundled_present(), reason="the bundled models are not there to fill in")
def test_models_that_cannot_load_are_reported_and_bundled_ones_fill_in():
    """An LM that cannot be loaded (a Hub repo, offline here) and a classifier that is not there: each is logged
    and shown in About, the LM named beside it is kept, the bundled LMs and classifier are served instead, and the
    app answers. The server is the browser tests' (apphelpers.BUNDLED_WITH_FAILURES): one start for both."""
    server = apphelpers.bundled_server()
    log = server.log_text()
    assert "Language model 'nobody/not-a-real-seqlab-model' could not be loaded" in log
    assert "Classifier '/no/such/classifier' could not be loaded" in log
    config = urllib.request.urlopen(server.url + "config", timeout=10).read().decode()
    assert "could not be loaded" in config  # the notice in the About tab
    client = Client(server.url, verbose=False)
    with pytest.raises(AppError) as e:
        client.predict("hi", "x", api_name="/chat")
    loaded = str(e.value).split("choose one of: ")[1].split(", ")
    assert loaded == ["char-transformer", "char-lstm"]  # the named one kept, the other bundled one filled in
    assert isinstance(client.predict("ROMEO:\n", max_new_tokens=5, api_name="/generate"), str)
    result = client.predict("A gorgeous, moving film.", api_name="/classify")
    assert set(result) == {"positive", "negative"} and result["positive"] > 0.5  # the bundled CNN's answer
    assert isinstance(client.predict("the [MASK]", api_name="/fill_mask"), dict)


def test_deploy_dry_run_lists_the_app_files_only():
    done = subprocess.run(
        [sys.executable, "-m", "space.deploy", "--repo", "someone/seqlab", "--dry-run"],
        cwd=apphelpers.ROOT,
        capture_output=True,
        text=True,
        env=apphelpers._env(HF_TOKEN="hf_secret_x"),
    )
    assert done.returncode == 0, done.stderr
    files = [line.split()[0] for line in done.stdout.splitlines()[1:]]
    assert "app.py" in files and "space/ui.py" in files and "space/handlers.py" in files
    assert "space/server.py" in files and "space/inside_tab.py" in files and "space/examples.py" in files
    assert "lm/generate.py" in files and "requirements.txt" in files
    assert "classify/__init__.py" in files and "classify/model.py" in files  # /classify runs on the Space
    # every package the app imports, the shared core and the translator included (the Space fails without them)
    imported = {
        m.split(".")[0]
        for m in subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, app, space.models, space.handlers, space.ui, translate.translator, "
                "translate.decode, lm.generate, pretrain.api, classify.model; print(' '.join(sys.modules))",
            ],
            cwd=apphelpers.ROOT,
            capture_output=True,
            text=True,
            env=apphelpers._env(),
        ).stdout.split()
    }
    local = {p for p in imported if os.path.exists(os.path.join(apphelpers.ROOT, p, "__init__.py"))}
    assert {"core", "translate", "lm", "space"} <= local
    assert all(f"{p}/__init__.py" in files for p in local), sorted(p for p in local if f"{p}/__init__.py" not in files)
    assert not [
        f
        for f in files
        if f.startswith(("tests/", ".venv", "artifacts/"))
        or "__pycache__" in f
        or f.endswith(".pyc")
        or "/checkpoint-" in f
        or "/logs/" in f
    ]
    assert "hf_secret_x" not in done.stdout + done.stderr


# ---------------------------------------------------------------- handlers and chat framing (in process, quick)

PLAY = (
    "ROMEO:\nJULIET:\nBut soft, what light through yonder window breaks? S0123456789 R. mine. Blank. word THE END Now?"
)


class EchoLM:
    """A stand-in LM for the handlers (real lm tokenizer; its `stream` says its name and what it was asked)."""

    def __init__(self, name: str, level: str = "char", context_length: int = 128):
        from lm.tokenizer import Tokenizer

        self.name, self.context_length = name, context_length
        self.tokenizer = Tokenizer.train(PLAY + "\n" + PLAY.lower(), level)
        self.config = types.SimpleNamespace(arch="transformer", vocab_size=len(self.tokenizer), level=level)
        self.prompts = []

    def stream(self, prompt, max_new_tokens=200, seed=None, **sampling):
        self.prompts.append(prompt)
        yield f"{self.name} "
        yield f"{max_new_tokens}."  # a whole word: the limit's cut keeps it (space.handlers' WordBoundary)

    def next_tokens(self, prompt, k=10):
        return [(" ", 1.0)]


def test_handlers_serve_the_registry_they_are_given():
    """No module-global registry: two Handlers over two registries answer each from its own models, and an LM
    loaded from a folder answers to the folder's path as well as to its name."""
    from space import handlers
    from space.models import Registry

    first = handlers.Handlers(Registry(lms={"tiny": EchoLM("first")}, aliases={"runs/a/tiny": "tiny"}))
    second = handlers.Handlers(Registry(lms={"other": EchoLM("second")}))
    assert list(first.generate("hi", max_new_tokens=3))[-1] == "first 3. …"
    assert list(second.generate("hi", max_new_tokens=3))[-1] == "second 3. …"
    assert list(first.generate("hi", model="runs/a/tiny", max_new_tokens=4))[-1] == "first 4. …"
    assert list(first.generate("hi", model="runs/a/tiny/", max_new_tokens=4))[-1] == "first 4. …"  # the same folder
    with pytest.raises(Exception, match="model 'runs/a/tiny' is not loaded; choose one of: other"):
        list(second.generate("hi", model="runs/a/tiny"))
    with pytest.raises(Exception, match="no classifier is loaded on this server"):
        second.classify("a film")


def test_requests_for_models_still_warming_wait_for_the_background_thread():
    """Deferred warm-ups run in one background thread after start-up; a translator request waits for it (two
    threads must not compile at once), a failed warm-up becomes a notice, and streams from the LMs never wait."""
    from space import handlers
    from space.models import Registry

    log, started, release = [], threading.Event(), threading.Event()

    def slow_warm():
        started.set()
        release.wait(10)
        log.append("warmed")

    def broken_warm():
        raise RuntimeError("no such path")

    class Translator:
        def translate_text(self, text, beam):
            return types.SimpleNamespace(text=f"{text} in {beam}")

    registry = Registry(lms={"tiny": EchoLM("first")}, translators={"t": Translator()})
    registry.later = [("t", slow_warm), ("b", broken_warm)]
    registry.start_background()
    h = handlers.Handlers(registry)
    assert list(h.generate("hi", max_new_tokens=3))[-1] == "first 3. …"  # while the warm-up still runs
    assert started.wait(10)  # a request that comes before the warm-up goes first
    waiter = threading.Thread(target=lambda: log.append(("translator", h.translate("hola", "t", 2))))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive() and log == []  # it waits for the warm-up
    release.set()
    waiter.join(10)
    assert log == ["warmed", ("translator", "hola in 2")]
    with pytest.raises(RuntimeError, match="once per registry"):
        registry.start_background()
    registry.close()  # the warm-ups after the request's end
    assert registry.notices == ["b could not be warmed after start-up: RuntimeError: no such path"]


def test_chat_prompt_is_play_dialogue_within_the_context():
    from space import chat

    m = EchoLM("m")
    history = []
    for i in range(40):
        history += [
            {"role": "user", "content": f"S{i}, mine.\n\nBlank."},
            {"role": "assistant", "content": [{"type": "text", "text": f"R{i}."}]},
        ]
    prompt = chat.chat_prompt(m, "Now?", history, max_new_tokens=20)
    assert prompt.endswith("ROMEO:\nNow?\n\nJULIET:\n")
    assert "JULIET:\nR39.\n\nROMEO:\nNow?" in prompt and "S0," not in prompt  # the most recent turns are kept
    assert "\n\n\n" not in prompt and "S39, mine.\nBlank." in prompt  # a message stays one speech
    budget = max(m.context_length // 2, m.context_length - 20)
    assert len(m.tokenizer.encode(prompt)) < budget
    speeches = prompt.split("\n\n")
    assert all(re.match(r"(ROMEO|JULIET):\n", s) for s in speeches if s)


@pytest.mark.parametrize("level", ["char", "word"])
def test_a_message_longer_than_the_context_keeps_its_end_and_its_speaker_line(level):
    """What the model reads is the prompt's token ids, cut to its context from the front (lm keeps a long prompt's
    end): the prompt must fit, with room for the reply, so that the ids still begin with ROMEO's speaker line
    and end with the message's last words and JULIET's line."""
    from space import chat

    m = EchoLM("m", level=level)
    history = [{"role": "user", "content": "S1, mine."}, {"role": "assistant", "content": "R1."}]
    message = "word " * 300 + "THE END"
    prompt = chat.chat_prompt(m, message, history, max_new_tokens=10)
    ids = m.tokenizer.encode(prompt)
    budget = max(m.context_length // 2, m.context_length - 10) - 1
    assert len(ids) <= budget  # so the model's own cut (the last context - 1 ids) leaves it whole
    end = m.tokenizer.encode("word THE END\n\nJULIET:\n")
    assert ids[-len(end) :] == end and ids[: len(m.tokenizer.encode("ROMEO:\n"))] == m.tokenizer.encode("ROMEO:\n")
    assert len(ids) > budget - 12  # as much of the message as fits (within a word or two)
    assert "S1" not in prompt and prompt.count("JULIET:") == 1  # no room for older turns


def test_the_chat_handler_sends_the_model_that_prompt():
    from space import chat, handlers
    from space.models import Registry

    m = EchoLM("m")
    h = handlers.Handlers(Registry(lms={"m": m}))
    message = "word " * 300 + "THE END"
    reply = list(h.chat_turn(message, [], None, 10, 0.8, 0, 1.0, "3"))
    assert reply[0] == "" and reply[-1] == "m 10. …"  # cut by the limit (10 tokens), marked
    assert m.prompts == [chat.chat_prompt(m, message, [], 10)]


@pytest.mark.parametrize(
    "text,reply,ended",
    [
        ("Good night, good night!\n\nROMEO:\nSleep", "Good night, good night!", True),
        ("Good night!\nROMEO:\nSleep dwell", "Good night!", True),
        ("Good night!\nFRIAR LAURENCE:\n", "Good night!", True),
        ("Good night! parting is\nsuch sweet sorrow", "Good night! parting is\nsuch sweet sorrow", False),
        ("Say: what light", "Say: what light", False),
    ],
)
def test_end_of_speech(text, reply, ended):
    from space import chat

    assert chat.end_of_speech(text) == (reply, ended)


def test_the_chat_module_docstring_example_runs():
    import doctest

    from space import chat

    result = doctest.testmod(chat)
    assert result.attempted >= 1 and result.failed == 0
