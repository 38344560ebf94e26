"""The app in a real browser: headless Debian Chromium driven by Playwright, against `python app.py`.

Needs `apt-get install chromium` (the test is skipped without /usr/bin/chromium). Screenshots go to artifacts/.
"""

import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apphelpers  # noqa: E402

CHROMIUM = os.environ.get("SEQLAB_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = os.path.join(apphelpers.ROOT, "artifacts")

pytestmark = [
    pytest.mark.slow,  # a real server and a real browser
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason=f"no Chromium at {CHROMIUM}: apt-get install chromium (or set SEQLAB_CHROMIUM)",
    ),
]


@pytest.fixture(scope="module")
def server():
    """The app as a person opens it: `python app.py` on the bundled models (SEQLAB_TEST_URL: a running one). It is
    apphelpers.bundled_server(), shared with test_app.py: it also names an LM and a classifier that cannot load,
    in whose place the bundled ones serve, so the page shows those two notices."""
    if os.environ.get("SEQLAB_TEST_URL"):
        return apphelpers.shared_server()
    return apphelpers.bundled_server()


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    os.makedirs(ARTIFACTS, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(30_000)
        page.goto(server.url)
        page.get_by_role("tab", name="Chat").wait_for()
        yield page
        browser.close()


def shot(page, name):
    page.screenshot(path=os.path.join(ARTIFACTS, f"browser_{name}.png"), full_page=True)


def tab(page, name):
    page.get_by_role("tab", name=name).click()


def test_chat_streams_a_reply(page):
    tab(page, "Chat")
    box = page.get_by_placeholder("Type a message...")
    box.fill("Good morrow, fair lady.")
    box.press("Enter")
    user = page.locator(".message.user").first
    user.wait_for()
    assert "Good morrow" in user.inner_text()
    bot = page.locator(".message.bot").last
    bot.wait_for()
    # the reply streams in; the Stop button shows while it does and goes when the reply is done
    page.wait_for_function(
        "() => { const b = document.querySelectorAll('.message.bot');"
        " return b.length && b[b.length - 1].innerText.trim().length > 0; }"
    )
    page.locator("button.stop-button").wait_for(state="hidden", timeout=60_000)
    shot(page, "chat")
    assert bot.inner_text().strip()


def test_fill_mask_shows_labels(page):
    tab(page, "Fill-mask")
    text = page.get_by_label("Text", exact=True)
    text.fill("and the lord [MASK] unto them and [MASK]")
    page.get_by_role("button", name="Fill", exact=True).click()
    # a BERT answer waits for the warm-up compiling then, if one is (space.models.Registry.compiling): on a loaded
    # machine that can be past playwright's 30 s
    page.locator("[data-testid='label-output-value']").nth(1).wait_for(timeout=60_000)
    page.wait_for_timeout(300)
    shot(page, "fill_mask")
    labels = page.locator("[data-testid='label-output-value']")
    assert labels.count() >= 2
    assert page.get_by_text(re.compile(r"^\s*\d+%\s*$")).count() >= 4  # confidences of several guesses


def test_sentence_pair_shows_is_next(page):
    tab(page, "Sentence pair")
    page.get_by_label("Sentence A", exact=True).fill("In the beginning God created the heaven and the earth.")
    page.get_by_label("Sentence B", exact=True).fill("And the earth was without form, and void")
    page.get_by_role("button", name="Predict").click()
    page.get_by_text(re.compile("IsNext|NotNext")).first.wait_for()
    page.wait_for_timeout(300)
    shot(page, "sentence_pair")
    body = page.locator("#component-0, body").first.inner_text()
    assert "IsNext" in body and "NotNext" in body


def test_generate_side_by_side(page):
    tab(page, "Generate")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.get_by_text(re.compile(r"tokens/s")).first.wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('*')].filter(e => e.children.length === 0 && "
        "/tokens\\/s/.test(e.textContent)).length >= 2"
    )
    page.wait_for_timeout(1500)
    shot(page, "generate")
    outputs = page.get_by_label("Continuation", exact=True)
    assert outputs.count() == 2
    assert all(outputs.nth(i).input_value().strip() for i in range(2))


def test_stop_ends_generation_at_once(page, server):
    """Stop cancels the side-by-side generation (2 x 500 tokens) mid-way; the page is usable at once."""
    tab(page, "Generate")
    max_tokens = page.locator("input[aria-label='number input for Max new tokens']:visible")
    max_tokens.fill("500")
    max_tokens.press("Tab")
    stops_before = len(re.findall(r"compare stopped by the client", server.log_text()))
    page.get_by_role("button", name="Generate", exact=True).click()
    # streaming has begun (the outputs show Gradio's "generating" state); the bundled models make the
    # 2 x 500 tokens in about a second, so Stop goes at once
    page.locator(".generating").first.wait_for(state="attached")
    # a DOM click at once (Playwright's click() waits for the busy page to settle, which can take a second)
    page.get_by_role("button", name="Stop", exact=True).dispatch_event("click")
    page.locator(".generating").first.wait_for(state="detached", timeout=10_000)
    page.wait_for_timeout(300)
    shot(page, "generate_stopped")
    counts = [int(n) for n in re.findall(r"(\d+) tokens in", page.locator("body").inner_text())]
    assert not counts or max(counts) < 500, "the generation ran to the end despite Stop"
    if isinstance(server, apphelpers.AppServer):
        stops = re.findall(r"compare stopped by the client after (\d+) tokens", server.log_text())
        assert len(stops) > stops_before and int(stops[-1]) < 1000  # closed mid-way (2 x 500 = 1000)
    # the page is usable again: the next generation runs to its end
    max_tokens.fill("20")
    max_tokens.press("Tab")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.get_by_text(re.compile(r"^20 tokens in")).first.wait_for()


def test_classify_tab_shows_sentiment(page):
    tab(page, "Classify")
    page.get_by_label("Review", exact=True).fill("A gorgeous, moving film.")
    page.get_by_role("button", name="Classify", exact=True).click()
    page.get_by_text(re.compile("positive|negative")).first.wait_for()
    page.wait_for_timeout(300)
    shot(page, "classify")
    body = page.locator("body").inner_text()
    assert "positive" in body and "negative" in body
    assert "A tedious, overlong mess." in body  # the examples


def test_translate_tab_shows_both_translations_and_their_attention_maps(page):
    tab(page, "Translate")
    page.get_by_label("English", exact=True).fill("Where is the train station?")
    page.get_by_role("button", name="Translate", exact=True).click()
    maps = page.locator("#translate-tab img[src^='data:image/']")
    maps.nth(1).wait_for(timeout=60_000)  # one heatmap per translator
    shot(page, "translate")
    outputs = [page.get_by_label(name, exact=True).input_value() for name in ("translate-rnn", "translate-transformer")]
    assert all(o.strip() for o in outputs), outputs
    before = maps.nth(1).get_attribute("src")
    page.get_by_label("Transformer head").click()  # another head redraws the Transformer's map
    page.get_by_role("option", name="head 1").click()
    page.wait_for_function(
        "([sel, old]) => { const m = document.querySelectorAll(sel); return m.length > 1 && m[1].src !== old; }",
        arg=["#translate-tab img[src^='data:image/']", before],
        timeout=30_000,
    )


def _pictures(page, view: str):
    return page.locator(f"#{view} img[src^='data:image/']")


def test_inside_contexts_draws_a_heatmap_per_representation_and_the_nearest_words(page):
    """The pre-filled example ("bank" in money and river sentences): a similarity heatmap for the static layer and
    each contextual one, and the nearest reference words (read from the vectors stored with the models)."""
    tab(page, "Inside")
    tab(page, "Contexts")
    assert page.get_by_label("Word", exact=True).input_value() == "bank"
    page.get_by_role("button", name="Compare", exact=True).click()
    _pictures(page, "inside-contexts").nth(1).wait_for(timeout=60_000)  # the static layer's and a contextual one
    page.wait_for_function(  # the nearest-words table (innerText: what is shown)
        "() => /bank \\((money|river)\\) \\d/.test(document.querySelector('#inside-contexts').innerText)",
        timeout=120_000,
    )
    shot(page, "inside_contexts")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the heatmaps stack
    page.wait_for_timeout(500)
    shot(page, "inside_contexts_phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    # back at desktop width the tab bar lays out again (at phone width the Inside sub-tabs can sit in an
    # overflow menu): the next test clicks those tabs, and once timed out here under load
    page.wait_for_timeout(500)
    body = page.locator("#inside-contexts").inner_text()
    assert "static (" in body and "layer 0)" in body


def test_inside_contexts_examples_show_their_senses_apart(page):
    """Each example, clicked: the number under every contextual heatmap (also written below them) is above 0 for
    ELMo's mix and each BERT's last layer, and the pictures are drawn at their own size or larger (a readable
    label is at least 7 points: space.plots)."""
    from space.examples import CONTEXT_EXAMPLES

    tab(page, "Inside")
    tab(page, "Contexts")
    view = page.locator("#inside-contexts")
    # the view shows the first example already (the test before clicked Compare on it): begin with the second, so
    # each wait below is for the clicked example's own answer, and the next click comes after it (a click while
    # the example before is still running is dropped: Gradio's trigger_mode "once")
    for word, sentences in [*CONTEXT_EXAMPLES[1:], CONTEXT_EXAMPLES[0]]:
        view.get_by_text(word, exact=True).first.click()
        first = sentences.splitlines()[0].split("] ", 1)[-1]
        shown = (
            "(s) => document.querySelector('#inside-contexts').innerText.includes('Same sense') &&"
            " document.querySelector('#inside-contexts').innerText.includes(s)"
        )
        try:
            page.wait_for_function(shown, arg=first, timeout=90_000)
            view.locator(".generating").first.wait_for(state="detached", timeout=30_000)
        except Exception:
            shot(page, f"inside_contexts_{word}_failed")
            raise AssertionError(f"{word}: {view.inner_text()[-1500:]}") from None
        text = view.inner_text()
        numbers = dict(re.findall(r"((?:elmo mix|[a-z-]+ layer 4)) ([+-]\d\.\d\d)", text.split("Same sense")[-1]))
        assert set(numbers) >= {"elmo mix", "bert-imdb layer 4"} and all(float(v) > 0 for v in numbers.values()), (
            word,
            numbers,
        )
        pictures = _pictures(page, "inside-contexts")
        for i in range(pictures.count()):
            natural, shown = pictures.nth(i).evaluate("(img) => [img.naturalWidth, img.getBoundingClientRect().width]")
            assert shown >= 0.5 * natural, (word, natural, shown)  # not squeezed below half its size
        shot(page, f"inside_contexts_{word}")


def test_inside_attention_draws_the_lm_and_bert_maps(page):
    tab(page, "Inside")
    tab(page, "Attention")
    page.get_by_role("button", name="Show attention", exact=True).click()
    maps = _pictures(page, "inside-attention")
    maps.first.wait_for(timeout=60_000)
    page.get_by_text(re.compile("the triangle above the diagonal is empty")).wait_for()
    shot(page, "inside_attention_lm")
    before = maps.first.get_attribute("src")
    page.locator("#inside-attention").get_by_text("I went to the [MASK] to buy some bread.").click()  # an example
    page.get_by_role("button", name="Show attention", exact=True).click()
    page.get_by_text(re.compile(r"\[MASK\] \(token \d+\) attends most to")).wait_for(timeout=60_000)
    assert maps.first.get_attribute("src") != before
    shot(page, "inside_attention_bert")
    assert "[CLS]" in page.locator("#inside-attention").inner_text()


def test_inside_lstm_gates_draws_the_gates_and_the_cells(page):
    tab(page, "Inside")
    tab(page, "LSTM gates")
    page.get_by_role("button", name="Show gates", exact=True).click()
    _pictures(page, "inside-gates").first.wait_for(timeout=60_000)
    page.wait_for_timeout(300)
    shot(page, "inside_gates")
    text = page.locator("#inside-gates").inner_text()
    assert "line position" in text and re.search(r"r = [+-]0\.\d\d over this text", text)
    assert page.locator("#inside-gates .seqlab-strip span").count() > 100  # the text, coloured character by character


def test_about_shows_cards(page, server):
    tab(page, "About")
    page.get_by_text("Limits").wait_for()
    shot(page, "about")
    assert page.get_by_text(re.compile("Model card:")).count() >= 4  # two LMs, BERT, the classifier
    if isinstance(server, apphelpers.AppServer):  # the models it names that cannot load, and what serves instead
        notices = page.locator("body").inner_text()
        assert "Language model 'nobody/not-a-real-seqlab-model' could not be loaded" in notices
        assert "Using the bundled language models instead: char-lstm." in notices
