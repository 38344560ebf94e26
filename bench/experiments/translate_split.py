"""Whole texts or sentence by sentence? What `Translator.translate_text` should do with a text of several sentences.

    python bench/experiments/translate_split.py      # the bundled translators, beam 4, the web-es validation books

The validation verses (a design choice is made on them, never on the test books) that have two or more
sentences (corpus.parallel.sentences, the rule the training data's sentence pairs were cut by) and fit the
model's source limit, translated two ways at the model's own alpha: whole, as the models were trained (verses),
and sentence by sentence, the translations joined with a space; both scored against the same references with
sacrebleu. Whole scored higher BLEU (sentence by sentence higher chrF), so translate_text keeps a text whole
whenever it fits and cuts it only when it does not. Results: bench/results/translate_split.json.
"""

import os
import sys

from record import ROOT, no_arguments, update

RESULTS = os.path.join(ROOT, "bench", "results", "translate_split.json")
BATCH = 32


def main() -> int:
    no_arguments(__doc__)
    import translate
    from corpus import parallel
    from translate.evaluate import bleu_chrf

    validation = parallel.split_pairs(parallel.load_pairs("web-es"))["validation"]
    multi = [p for p in validation if len(parallel.sentences(p.source)) >= 2]
    for name in ("translate-rnn", "translate-transformer"):
        t = translate.load(name)
        fits = [p for p in multi if len(t.tokenizer.source.encode(p.source)) <= t.config.max_src_len]
        sources = [p.source for p in fits]
        whole = [x.text for i in range(0, len(sources), BATCH) for x in t.translate(sources[i : i + BATCH])]
        flat = [(k, s) for k, p in enumerate(fits) for s in parallel.sentences(p.source)]
        alone = [s for _, s in flat]
        texts = [x.text for i in range(0, len(alone), BATCH) for x in t.translate(alone[i : i + BATCH])]
        joined = [" ".join(x for (k, _), x in zip(flat, texts) if k == owner) for owner in range(len(fits))]
        references = [p.target for p in fits]
        row = {
            "split": "validation",
            "verses": len(fits),
            "sentences": len(flat),
            "beam": 4,
            "alpha": t.decoding.alpha,
            "whole": bleu_chrf(whole, references),
            "by_sentence": bleu_chrf(joined, references),
        }
        print(name, {k: row[k] for k in ("verses", "sentences")}, row["whole"]["bleu"], row["by_sentence"]["bleu"],
              file=sys.stderr)  # fmt: skip
        update(RESULTS, name, value=row)
    update(RESULTS, "command", value="python bench/experiments/translate_split.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
