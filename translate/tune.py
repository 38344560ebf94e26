"""`python -m translate.tune`: choose a translator's length penalty on validation data, never on the test books.

    python -m translate.tune --model translate-transformer --pair web-es --write
    python -m translate.tune --model runs/tr --tsv dev.tsv --alphas 0.6,1.0,1.4

Beam search ranks finished hypotheses by log probability / ((5 + |Y|) / 6) ** alpha (GNMT's penalty). Too small
an alpha favours short translations that drop words; the right value depends on the model, so it is chosen by
BLEU on held-out sentences, as Marian's and fairseq's users tune --normalize / --lenpen on a dev set. --write
saves the best alpha, with every alpha's BLEU, to the model's decoding.json, which `translate.load` reads.

The last line is one JSON object: the BLEU and chrF of each alpha, the best alpha and the file written (or null).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from core import cli  # noqa: E402

ALPHAS = "0.6,1.0,1.4,1.8,2.2"


def parse_alphas(text: str) -> list[float]:
    try:
        alphas = [float(a) for a in text.split(",") if a.strip()]
    except ValueError:
        raise cli.UsageError(f"--alphas must be numbers separated by commas, got {text!r}") from None
    if not alphas or not all(0 <= a <= 4 for a in alphas):
        raise cli.UsageError(f"--alphas must be one or more numbers from 0 to 4, got {text!r}")
    return sorted(set(alphas))


def tune(
    model: str,
    pair: str | None,
    tsv: str | None,
    alphas: list[float],
    beam: int,
    limit: int | None,
    write: bool,
    languages: tuple[str, str] | None = None,
) -> dict:
    """Score the validation split (or the whole --tsv) at each alpha; with `write`, save the best one."""
    import translate
    from corpus import parallel
    from translate.evaluate import score
    from translate.translator import Decoding

    translator = translate.load(model)
    if write:
        from huggingface_hub.constants import HF_HUB_CACHE

        if os.path.realpath(translator.folder).startswith(os.path.realpath(HF_HUB_CACHE) + os.sep):
            raise cli.UsageError(f"--write needs a model folder of yours; {model} is a Hub download: copy it first")
    spec = tsv or pair
    pairs = parallel.load_pairs(spec, languages)
    if pair:
        pairs = parallel.split_pairs(pairs)["validation"]
    pairs = pairs[:limit] if limit else pairs
    rows = []
    for alpha in alphas:
        r = score(translator, pairs, beam=beam, alpha=alpha, progress=True)
        rows.append({"alpha": alpha, "bleu": r["bleu"], "chrf": r["chrf"]})
        print(f"alpha {alpha}: BLEU {r['bleu']}, chrF {r['chrf']}", file=sys.stderr, flush=True)
    best = max(rows, key=lambda r: (r["bleu"], r["chrf"], -r["alpha"]))  # ties: the higher chrF, then the smaller
    written = None
    if write:
        data = (f"{pair} validation" if pair else tsv) + (f" ({languages[0]} → {languages[1]})" if languages else "")
        where = f"--pair {pair}" if pair else f"--tsv {tsv}"
        where += f" --source-lang {languages[0]} --target-lang {languages[1]}" if languages else ""
        listed = ",".join(map(str, alphas))
        command = f"python -m translate.tune --model {model} {where} --alphas {listed} --beam {beam}"
        command += (f" --limit {limit}" if limit else "") + " --write"
        tuned = {"data": data, "sentences": len(pairs), "beam": beam, "scores": rows, "signature": r["bleu_signature"],
                 "command": command}  # fmt: skip
        Decoding(alpha=best["alpha"], tuned=tuned).save(translator.folder)
        written = os.path.join(translator.folder, Decoding.FILE)
        from translate import card

        card.set_decoding(translator.folder)  # the card says which alpha, and why
    return {"model": model, "data": spec, "sentences": len(pairs), "beam": beam, "scores": rows,
            "best_alpha": best["alpha"], "written": written}  # fmt: skip


def main(argv=None) -> int:
    from translate.evaluate import add_model_and_data, languages_of

    p = cli.parser("python -m translate.tune", __doc__)
    add_model_and_data(
        p,
        "web-es, kjv-web or hf:NAME[:CONFIG]: scored on its validation split",
        "a source<TAB>target file of held-out pairs, scored whole",
    )
    p.add_argument("--alphas", default=ALPHAS, help=f"comma list of length penalties to try (default {ALPHAS})")
    p.add_argument("--beam", type=int, default=4)
    p.add_argument("--limit", type=int, default=None, help="score only the first N sentences")
    p.add_argument("--write", action="store_true", help="save the best alpha to the model's decoding.json")

    def work(a):
        alphas = parse_alphas(a.alphas)
        if not 1 <= a.beam <= 16 or (a.limit is not None and a.limit < 1):
            raise cli.UsageError("--beam must be 1-16 and --limit positive")
        return tune(a.model, a.pair, a.tsv, alphas, a.beam, a.limit, a.write, languages_of(a))

    return cli.run(p, argv, work)


if __name__ == "__main__":
    sys.exit(main())
