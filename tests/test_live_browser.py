"""The Train tab in a real browser: headless Debian Chromium driven by Playwright, against a Gradio server of the
tab alone (this process, a free port, the app's own launch and CSS): a short lm job on pasted text, its status and
curves updating while it trains, Stop, the stopped job's names and zips. A screenshot goes to artifacts/.

Needs `apt-get install chromium` (the test is skipped without /usr/bin/chromium).
"""

import os
import re

import pytest

from tests.apphelpers import ROOT, free_port
from tests.test_browser import ARGS, CHROMIUM
from tests.test_live import _children, sentences

ARTIFACTS = os.path.join(ROOT, "artifacts")

pytestmark = [
    pytest.mark.slow,  # a real server, a real browser and a real training job
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason=f"no Chromium at {CHROMIUM}: apt-get install chromium (or set SEQLAB_CHROMIUM)",
    ),
]


@pytest.fixture(scope="module")
def train_server(tmp_path_factory):
    import gradio as gr

    from live import Runner
    from space import server
    from space.live_handlers import LiveHandlers
    from space.train_tab import train_tab

    # niced, not SCHED_IDLE: beside the suite's other worker an idle-class job would barely run
    lh = LiveHandlers(Runner(root=str(tmp_path_factory.mktemp("live")), idle=False))
    with gr.Blocks(title="SeqLab") as demo:
        with gr.Tabs():
            train_tab(lh)
    port = free_port()
    server.launch(demo, "127.0.0.1", port)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def _step(page) -> int:
    """The furthest model's step in the status line (0 before the first)."""
    return max([int(s) for s in re.findall(r"step (\d+)", page.locator("#train-status").inner_text())] or [0])


def _curves(page) -> str:
    return page.locator("#train-curves img").first.get_attribute("src") or ""


def test_the_train_tab_shows_a_job_learning_and_stops_it(train_server):
    from playwright.sync_api import expect, sync_playwright

    os.makedirs(ARTIFACTS, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(30_000)
        page.goto(train_server)
        page.get_by_role("tab", name="Train").click()
        page.get_by_label("lm", exact=True).check()
        expect(page.get_by_label("Probe (edit it while it trains)")).to_have_value("ROMEO:\n")
        page.get_by_label("paste text", exact=True).check()
        page.get_by_label("Your text (one sentence a line is best; up to 1 MB)").fill(sentences(400))
        page.locator("#train-start").click()

        # two updates while it trains: the step counter grows and the curves are redrawn, each time
        page.get_by_text(re.compile(r"step \d+")).first.wait_for(timeout=60_000)
        seen = [(_step(page), _curves(page))]
        while len(seen) < 3:
            page.wait_for_function(
                "([step, src]) => { const t = document.querySelector('#train-status').innerText;"
                " const s = [...t.matchAll(/step (\\d+)/g)].map(m => +m[1]);"
                " const img = document.querySelector('#train-curves img');"
                " return Math.max(0, ...s) > step && img && img.src !== src; }",
                arg=list(seen[-1]),
                timeout=20_000,
            )
            seen.append((_step(page), _curves(page)))
        assert "training" in page.locator("#train-status").inner_text()
        assert "One training window" in page.locator("body").inner_text()

        page.locator("#train-stop").click()
        page.get_by_text(re.compile(r"^stopped")).first.wait_for(timeout=60_000)
        names = page.locator("#train-names textarea, #train-names input").first.input_value()
        assert re.fullmatch(r"live-lstm-\w+, live-transformer-\w+", names), names
        page.wait_for_function(  # one zip a model (Gradio shows a file's stem and extension apart)
            "() => /live-lstm-\\w+\\s*\\.zip[\\s\\S]*live-transformer-\\w+\\s*\\.zip/"
            ".test(document.querySelector('#train-download').innerText)"
        )
        page.wait_for_timeout(500)
        page.screenshot(path=os.path.join(ARTIFACTS, "browser_train.png"), full_page=True)
        assert page.locator("#train-accuracy").is_hidden()  # an LM has no accuracy plot
        status = page.locator("#train-status").inner_text()
        browser.close()
    assert re.search(r"kept as live-lstm-\w+, live-transformer-\w+", status), status
    assert not _children(os.getpid())
