"""`python -m translate.evaluate`: BLEU and chrF (sacrebleu) of a translator on a split of a pair or a TSV.

    python -m translate.evaluate --model translate-transformer --pair web-es --split test
    python -m translate.evaluate --model runs/tr --tsv my_pairs.tsv --beam 1

The last line is one JSON object: bleu, chrf, their sacrebleu signatures, the number of sentences, and, for a
pair whose two sides are one language (kjv-web) or with --copy-baseline, the copy baseline: the source itself
scored as the translation, so the gain over copying is visible.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from core import cli  # noqa: E402

SAME_LANGUAGE = ("kjv-web",)
CHUNK = 32  # sentences per decoding call: one compiled batch shape


def bleu_chrf(hypotheses: list[str], references: list[str]) -> dict:
    """Corpus BLEU and chrF of `hypotheses` against one reference each, with sacrebleu's signatures."""
    import sacrebleu

    bleu, chrf = sacrebleu.metrics.BLEU(), sacrebleu.metrics.CHRF()
    b, c = bleu.corpus_score(hypotheses, [references]), chrf.corpus_score(hypotheses, [references])
    return {
        "bleu": round(b.score, 2),
        "chrf": round(c.score, 2),
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
    }


def score(
    translator, pairs, beam: int = 4, copy_baseline: bool = False, progress: bool = False, alpha: float | None = None
) -> dict:
    """Translate every pair's source (those over the model's length are cut, not skipped: every pair counts).
    alpha None: the model's own length penalty (its decoding.json, else 0.6)."""
    from tqdm import tqdm

    limit = translator.config.max_src_len
    alpha = translator.decoding.alpha if alpha is None else alpha
    sources = []
    for p in pairs:
        ids = translator.tokenizer.source.encode(p.source)
        # an over-long verse is cut to the model's limit so that every reference is scored
        sources.append(p.source if len(ids) <= limit else translator.tokenizer.source.decode(ids[:limit]))
    hypotheses = []
    for start in tqdm(range(0, len(sources), CHUNK), disable=not progress, file=sys.stderr, desc="translate"):
        hypotheses += [t.text for t in translator.translate(sources[start : start + CHUNK], beam=beam, alpha=alpha)]
    references = [p.target for p in pairs]
    result = {**bleu_chrf(hypotheses, references), "sentences": len(pairs), "beam": beam, "alpha": alpha}
    if copy_baseline:
        copy = bleu_chrf([p.source for p in pairs], references)
        result.update(copy_bleu=copy["bleu"], copy_chrf=copy["chrf"])
    books = sorted({p.group for p in pairs if p.group})
    if len(books) > 1:  # Bible pairs: where the score is lost, book by book (web-es test: 1 Corinthians lowest)
        result["books"] = {}
        for book in books:
            rows = [(h, p.target) for p, h in zip(pairs, hypotheses) if p.group == book]
            scores = bleu_chrf([h for h, _ in rows], [r for _, r in rows])
            result["books"][book] = {"sentences": len(rows), "bleu": scores["bleu"], "chrf": scores["chrf"]}
    result["examples"] = [
        {"source": p.source, "reference": p.target, "translation": h} for p, h in list(zip(pairs, hypotheses))[:3]
    ]
    return result


def evaluate(
    model: str,
    pair: str | None,
    split: str,
    tsv: str | None,
    beam: int,
    limit: int | None,
    copy_baseline: bool,
    alpha: float | None = None,
    languages: tuple[str, str] | None = None,
) -> dict:
    import translate
    from corpus import parallel

    translator = translate.load(model)
    spec = tsv or pair
    pairs = parallel.load_pairs(spec, languages)
    if pair:  # a named pair or hf: set: its fixed split; a --tsv file is scored whole
        pairs = parallel.split_pairs(pairs)[split]
    pairs = pairs[:limit] if limit else pairs
    same = copy_baseline or pair in SAME_LANGUAGE
    result = score(translator, pairs, beam=beam, copy_baseline=same, progress=True, alpha=alpha)
    chosen = {"languages": list(languages)} if languages else {}
    return {"model": model, "data": spec, **chosen, "split": split if pair else "all", **result}


def add_model_and_data(p, pair_help: str, tsv_help: str) -> None:
    """--model, and --pair or --tsv: what translate.evaluate and translate.tune read."""
    p.add_argument("--model", required=True, help="bundled name, model folder or Hub repo id")
    data = p.add_mutually_exclusive_group(required=True)
    data.add_argument("--pair", help=pair_help)
    data.add_argument("--tsv", help=tsv_help)
    add_languages(p)


def add_languages(p) -> None:
    """--source-lang / --target-lang, as in fairseq and Hugging Face's run_translation: the direction of an hf: set."""
    p.add_argument("--source-lang", help="hf: sets: the source's key in the `translation` column, or its column")
    p.add_argument("--target-lang", help="hf: sets: the target's key or column (give both or neither)")


def languages(source: str | None, target: str | None) -> tuple[str, str] | None:
    """(source, target), or None when neither is given; one alone is refused (ValueError)."""
    if bool(source) != bool(target):
        raise ValueError("--source-lang and --target-lang go together: give both or neither")
    return (source, target) if source else None


def languages_of(args) -> tuple[str, str] | None:
    """`languages` of the parsed --source-lang / --target-lang."""
    return languages(args.source_lang, args.target_lang)


def main(argv=None) -> int:
    p = cli.parser("python -m translate.evaluate", __doc__)
    add_model_and_data(
        p, "web-es, kjv-web or hf:NAME[:CONFIG]: scored on its --split", "a source<TAB>target file, scored whole"
    )
    p.add_argument("--split", default="test", choices=["train", "validation", "test"])
    p.add_argument("--beam", type=int, default=4)
    p.add_argument(
        "--alpha", type=float, default=None, help="length penalty ((5 + |Y|) / 6) ** alpha (default: the model's own)"
    )
    p.add_argument("--limit", type=int, default=None, help="score only the first N sentences")
    p.add_argument("--copy-baseline", action="store_true", help="also score the sources as translations")

    def work(a):
        if not 1 <= a.beam <= 16 or (a.limit is not None and a.limit < 1):
            raise cli.UsageError("--beam must be 1-16 and --limit positive")
        if a.alpha is not None and not 0 <= a.alpha <= 4:
            raise cli.UsageError(f"--alpha must be 0-4, got {a.alpha}")
        return evaluate(a.model, a.pair, a.split, a.tsv, a.beam, a.limit, a.copy_baseline, a.alpha, languages_of(a))

    return cli.run(p, argv, work)


if __name__ == "__main__":
    sys.exit(main())
