"""Record bundled-model outputs before the core refactor (issue 14): the regression test compares against these."""

# Run once from the repository root before a change that must not alter the bundled models:
#   python tests/data/record_bundled_reference.py
import json
import os
import sys

sys.path.insert(0, os.getcwd())
import numpy as np

import classify
import lm
import pretrain

out = {}
for name in lm.BUNDLED:
    m = lm.load(name)
    out[f"lm/{name}"] = {
        "greedy": m.generate("ROMEO:\n", max_new_tokens=80, temperature=0.0),
        "sampled": m.generate("JULIET:\n", max_new_tokens=60, temperature=0.8, top_k=20, seed=3),
    }
for name in ("bert", "bert-imdb"):
    b = pretrain.load(name)
    fm = b.fill_mask("in the beginning god created the [MASK] and the earth.", top_k=5)
    fm2 = b.fill_mask("the acting was [MASK] and the story was dull.", top_k=5)
    out[f"pretrain/{name}"] = {
        "fill_mask": [fm, fm2],
        "nsp": [
            b.next_sentence("I went to the shop to buy bread.", "It was closed, so I came home hungry."),
            b.next_sentence("to be, or not to be:", "that is the question"),
        ],
        "embed_sum": float(np.asarray(b.embed("the lord is my shepherd")[1], np.float64).sum()),
    }
c = classify.load("sentiment")
texts = ["A gorgeous, moving film.", "Dull, long and badly acted.", "It was fine."]
out["classify/sentiment"] = {t: c.predict(t) for t in texts}
json.dump(out, open("tests/data/bundled_reference.json", "w"), indent=1)
print(json.dumps(out)[:1500])
