"""How much of the app's first-token time is the engine's own? The bench.serve load (16 users streaming chats of
the bundled char-transformer, max_new_tokens 200, ending at the end of the speech) on lm.engine.Engine in this
process: no Gradio, no HTTP, no client process, the same prompts (space.chat.chat_prompt) and stop string.

    python bench/experiments/engine_ttft.py [SECONDS]       # default 20

Per chat: submit -> the first piece, and submit -> the first piece holding a space (the Chat tab shows whole
words), split like bench.serve into each user's first chat (all 16 submitted at once) and the later ones. Written
to bench/results/engine_ttft_avx2.json under the CPU's ISA.
"""

import argparse
import os
import threading
import time

from record import ROOT, update

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
RESULTS = os.path.join(ROOT, "bench", "results", "engine_ttft_avx2.json")
USERS = 16


def main(seconds: float) -> dict:
    import lm
    from bench.common import machine
    from bench.serve import MESSAGES, _percentiles  # bench.serve's prompts and percentile rule
    from core import jit
    from lm.engine import Engine, EngineConfig
    from space.chat import chat_prompt

    configured = jit.configure()
    model = lm.load("char-transformer").warm_up()  # the app warms every prompt bucket before it serves
    engine = Engine(model, EngineConfig())  # the app's configuration
    times = {"first": [], "later": [], "word_first": [], "word_later": [], "chars": []}
    deadline = time.perf_counter() + seconds

    def user(u):
        i = 0
        while time.perf_counter() < deadline:
            prompt, kind = chat_prompt(model, MESSAGES[(u + i) % 4], [], 200), "first" if i == 0 else "later"
            start, first, word, chars = time.perf_counter(), None, None, 0
            for piece in engine.stream(prompt, max_new_tokens=200, seed=1000 * u + i, stop=["\n\n"]):
                now, chars = time.perf_counter(), chars + len(piece)
                first = first if first is not None else now - start
                word = word if word is not None or " " not in piece else now - start
            end = time.perf_counter() - start  # a reply with no piece at all counts until it ended
            times[kind].append(first if first is not None else end)
            times[f"word_{kind}"].append(word if word is not None else end)
            times["chars"].append(chars)
            i += 1

    threads = [threading.Thread(target=user, args=(u,)) for u in range(USERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.close()
    result = {
        "machine": {**machine(), "configured": configured},
        "users": USERS,
        "seconds": seconds,
        "chats": len(times["chars"]),
        "chars_per_chat": round(sum(times["chars"]) / max(len(times["chars"]), 1), 1),
        "first_piece_ms": {"first_chats": _percentiles(times["first"]), "later": _percentiles(times["later"])},
        "first_word_ms": {"first_chats": _percentiles(times["word_first"]), "later": _percentiles(times["word_later"])},
        "engine_stats": dict(engine.stats),
    }
    update(RESULTS, result["machine"]["isa"], value=result)
    print(result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("seconds", nargs="?", type=float, default=20, help="how long the 16 users stream")
    main(parser.parse_args().seconds)
