"""SeqLab's Gradio app (Hugging Face Space entry point): `python app.py`.

Serves the bundled models on http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT or --host /
--port change that). SEQLAB_LM_MODELS / SEQLAB_BERT_MODEL (or --lm-models / --bert-model) point at other model
folders or Hub repo ids; SEQLAB_CLASSIFIER (or --classifier) at another classifier folder or Hub repo id
(default: bundled "sentiment"). The app itself lives in space/.
"""

import argparse
import logging
import os
import re
import sys
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before the first TensorFlow import (space.models -> lm -> keras)
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

# TensorFlow 2.21 prints these at import, twice (two of its libraries each print them), through absl before its
# logging is set up, so TF_CPP_MIN_LOG_LEVEL does not reach them. They are harmless notes on a CPU machine (oneDNN
# kernels are in use; no GPU driver, so the CPU is used) that read like errors.
TF_IMPORT_NOTES = re.compile(
    rb"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|I\d{4} [\d:.]+ +\d+ (port\.cc:\d+\] oneDNN custom operations are on"
    rb"|cudart_stub\.cc:\d+\] Could not find cuda drivers)"
)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its start-up notes (TF_IMPORT_NOTES) left out of stderr when TF_CPP_MIN_LOG_LEVEL
    asks for quiet: they are written by C++ to file descriptor 2, so it is passed through a pipe for the import
    and every other line goes on to stderr as it comes."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") in ("", "0"):
        return  # all of TensorFlow's messages are wanted: it is imported where it is first used
    stderr = os.dup(2)
    read, write = os.pipe()
    os.dup2(write, 2)
    os.close(write)

    def forward():
        with os.fdopen(read, "rb") as pipe:
            for line in pipe:
                if not TF_IMPORT_NOTES.match(line):
                    os.write(stderr, line)

    forwarder = threading.Thread(target=forward, daemon=True)
    forwarder.start()
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        pass  # a JAX-only machine: nothing to quieten
    finally:
        os.dup2(stderr, 2)  # the pipe's last writer closes: the forwarder reads to its end and stops
        forwarder.join(timeout=5)
        os.close(stderr)


def main(argv=None) -> int:
    started = time.perf_counter()
    p = argparse.ArgumentParser(prog="python app.py", description="SeqLab demo app (Gradio).")
    p.add_argument(
        "--lm-models",
        default=None,
        help="comma list of LM names, folders or Hub repo ids (default: $SEQLAB_LM_MODELS or bundled)",
    )
    p.add_argument(
        "--bert-model",
        default=None,
        help="BERT name, folder or Hub repo id (default: $SEQLAB_BERT_MODEL or bundled 'bert')",
    )
    p.add_argument(
        "--classifier",
        default=None,
        help="classifier name, folder or Hub repo id (default: $SEQLAB_CLASSIFIER or bundled 'sentiment')",
    )
    p.add_argument(
        "--translators",
        default=None,
        help="comma list of translator names, folders or Hub repo ids (default: $SEQLAB_TRANSLATORS or "
        "the bundled ones)",
    )
    p.add_argument("--host", default=None, help="address to listen on (default: $GRADIO_SERVER_NAME or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: $GRADIO_SERVER_PORT or 7860)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    log = logging.getLogger("seqlab.space")
    for noisy in ("httpx", "absl", "tensorflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    import_tensorflow_quietly()
    from space import models, ui

    try:
        registry = models.load(
            args.lm_models, args.bert_model, classifier=args.classifier, translators=args.translators
        )
    except RuntimeError as e:
        log.error("%s", e)
        return 1
    demo = ui.build(registry)
    ui.launch(demo, server_name=args.host, server_port=args.port)
    log.info(
        "SeqLab ready on %s (models: %s; started in %.1f s)",
        demo.local_url,
        ", ".join(
            [
                *registry.lms,
                *([registry.bert.name] if registry.bert is not None else []),
                *([registry.classifier.name] if registry.classifier is not None else []),
                *registry.translators,
            ]
        ),
        time.perf_counter() - started,
    )
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
