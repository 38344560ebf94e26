"""Refresh the app's screenshots in docs/images/: `python docs/screenshots.py` (from the repository root).

Starts `python app.py` on the bundled models on a free port (or uses `--url` of a running app), opens it in headless
Chromium through Playwright (as tests/test_browser.py does; Debian's `chromium`, which `bash scripts/test.sh`
installs), shows each tab and saves one PNG per tab, reduced to a 256-colour palette so each stays small.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "docs", "images")
TABS = ["Chat", "Generate", "Fill-mask", "Sentence pair", "Classify", "Translate", "Inside", "Train", "About"]
# Tabs shown answering: the button to press and the output box that fills (the rest are shown as they open)
ANSWER = {"Translate": ("Translate", "translate-transformer")}
CHROMIUM = os.environ.get("SEQLAB_CHROMIUM", "/usr/bin/chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(timeout: float) -> tuple[subprocess.Popen, str]:
    """`python app.py` on a free port; returns once it answers HTTP (or raises with the end of its log)."""
    port = free_port()
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False", TF_CPP_MIN_LOG_LEVEL="3")
    log = tempfile.NamedTemporaryFile("w", prefix="seqlab-screenshots-", suffix=".log", delete=False)
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url, end = f"http://127.0.0.1:{port}/", time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            break
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.5)  # polling a server that is still loading its models
    proc.kill()
    tail = open(log.name).read()[-2000:]
    raise SystemExit(f"error: the app did not answer on {url} within {timeout:.0f} s:\n{tail}")


def small_png(path: str) -> int:
    """Re-save the screenshot with a 256-colour palette (text and flat UI colours survive it); returns the bytes."""
    from PIL import Image

    Image.open(path).convert("RGB").quantize(colors=256).save(path, optimize=True)
    return os.path.getsize(path)


def shoot(url: str, tabs: list[str], width: int, height: int) -> list[str]:
    from playwright.sync_api import expect, sync_playwright

    saved = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(60_000)
        page.goto(url)
        page.get_by_role("tab", name="Chat").wait_for()
        for name in tabs:
            page.get_by_role("tab", name=name, exact=True).first.click()
            page.get_by_role("tab", name=name, exact=True, selected=True).first.wait_for()
            button, output = ANSWER.get(name, (None, None))
            if button and output:
                page.get_by_role("button", name=button, exact=True).first.click()
                expect(page.get_by_label(output, exact=True).first).not_to_have_value("", timeout=120_000)
            page.wait_for_timeout(1500)  # a picture, not a test: let the panel's plots and images draw
            path = os.path.join(OUT, name.lower().replace(" ", "-").replace("-mask", "mask") + ".png")
            page.screenshot(path=path)
            print(f"{os.path.relpath(path, ROOT)}: {small_png(path) / 1024:.0f} KB", file=sys.stderr)
            saved.append(path)
        browser.close()
    return saved


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python docs/screenshots.py", description=__doc__.split("\n")[0])
    p.add_argument("--url", help="a running app (default: start `python app.py` on the bundled models)")
    p.add_argument("--tabs", default=",".join(TABS), help="comma-separated tab names (default: all)")
    p.add_argument("--width", type=int, default=1200)
    p.add_argument("--height", type=int, default=760)
    p.add_argument("--timeout", type=float, default=300, help="seconds to wait for the app to start")
    args = p.parse_args(argv)
    if not os.path.exists(CHROMIUM):
        print(f"error: no Chromium at {CHROMIUM}: apt-get install chromium (or set SEQLAB_CHROMIUM)", file=sys.stderr)
        return 2
    os.makedirs(OUT, exist_ok=True)
    proc, url = (None, args.url) if args.url else start_app(args.timeout)
    try:
        shoot(url, [t.strip() for t in args.tabs.split(",") if t.strip()], args.width, args.height)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
