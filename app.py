"""SeqLab's Gradio app (Hugging Face Space entry point): `python app.py`.

Serves the bundled models on http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT or --host /
--port change that). SEQLAB_LM_MODELS / SEQLAB_BERT_MODELS (or --lm-models / --bert-models) point at other model
folders or Hub repo ids; SEQLAB_CLASSIFIER (or --classifier) at another classifier folder or Hub repo id
(default: bundled "sentiment"), SEQLAB_TRANSLATORS (or --translators) at other translators, SEQLAB_ENCODERS (or
--encoders) at other ELMo (bilm) folders for the Inside tab and /embed. SEQLAB_ENGINE=off
serves each stream alone at batch 1 instead of through the LM engines (space/models.py). The app itself lives
in space/.
"""

import argparse
import logging
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before the first TensorFlow import (space.models -> lm -> keras)
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from core import quiet  # noqa: E402  (imports nothing heavy)


def main(argv=None) -> int:
    started = time.perf_counter()
    p = argparse.ArgumentParser(prog="python app.py", description="SeqLab demo app (Gradio).")
    p.add_argument(
        "--lm-models",
        default=None,
        help="comma list of LM names, folders or Hub repo ids (default: $SEQLAB_LM_MODELS or bundled)",
    )
    p.add_argument(
        "--bert-models",
        default=None,
        help="comma list of BERT names, folders or Hub repo ids, the first the tabs' default "
        "(default: $SEQLAB_BERT_MODELS or the bundled ones, bert-modern first)",
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
    p.add_argument(
        "--encoders",
        default=None,
        help="comma list of ELMo (bilm) names, folders or Hub repo ids (default: $SEQLAB_ENCODERS or the bundled ones)",
    )
    p.add_argument("--host", default=None, help="address to listen on (default: $GRADIO_SERVER_NAME or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: $GRADIO_SERVER_PORT or 7860)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    log = logging.getLogger("seqlab.space")
    for noisy in ("httpx", "absl", "tensorflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    quiet.import_tensorflow()
    from core import jit
    from space import handlers, models, server, ui

    log.info("%s", jit.configure())  # before the first model: the CPU, its ISA and what is set for it

    try:
        registry = models.load(
            args.lm_models,
            args.bert_models,
            classifier=args.classifier,
            translators=args.translators,
            encoders=args.encoders,
            start_engines=False,  # once the page is built (see Registry.start_background)
            defer_warm=True,  # the translators and the other BERTs: warmed then too
        )
    except RuntimeError as e:
        log.error("%s", e)
        return 1
    demo = ui.build(registry)
    server.launch(demo, server_name=args.host, server_port=args.port)
    handlers.warm_reference(registry)  # the Contexts view's stored vectors; its paths first of the warm-ups
    registry.start_background()
    log.info(
        "SeqLab ready on %s (models: %s; started in %.1f s)",
        demo.local_url,
        ", ".join(
            [
                *registry.lms,
                *registry.berts,
                *([registry.classifier.name] if registry.classifier is not None else []),
                *registry.translators,
                *registry.encoders,
            ]
        ),
        time.perf_counter() - started,
    )
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        registry.close()  # the LM engines' threads
    return 0


if __name__ == "__main__":
    sys.exit(main())
