"""A model's word vectors of fixed sentences, stored in its folder (`reference.npz`), so the app reads them at
start-up instead of running the model: the Contexts view's reference set and its shipped examples.

    python -m inside.stored --model elmo --model bert-imdb      # write lm/models/elmo/reference.npz, ...

Embedding the 270 reference sentences takes each model seconds of compiling and computing, and the app's first
Contexts Compare would wait for it (`python -m bench.sense_match --first-compare`); reading the file takes a
fraction of a second. The file holds, per sentence, its words as `inside.vectors.word_vectors` reads them and
their vectors (float16: the view shows two decimals) at the layers the Contexts view compares: every ELMo layer
(its layer -1, the scalar mix, is mixed from them by the folder's mix.json at read time, so refitting the mix
needs no new file) and a BERT's last one. It names the SHA-256 of the model's weights and starts with the reference
sentences it was written for: a file that does not match both is not used (`read` answers None, and the vectors
are computed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys

import numpy as np

from inside import kinds, vectors

FILE = "reference.npz"
WEIGHTS = "model.weights.h5"
COMMAND = "python -m inside.stored --model {name}"
log = logging.getLogger("seqlab.inside")


def layers(model) -> tuple[int, ...]:
    """The layers a model's file holds: every ELMo layer (the mix is made from them), a BERT's last."""
    top = kinds.layers(model)
    return tuple(range(top + 1)) if kinds.kind(model) == kinds.ELMO else (top,)


def weights_sha256(model) -> str:
    """The SHA-256 of the model's weights file: what a file must have been written with."""
    with open(os.path.join(model.folder, WEIGHTS), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write(model, reference: list[str], extra: list[str] = ()) -> str:
    """Embed the `reference` sentences and then the `extra` ones with `model` (batched) and write its folder's
    file atomically; its path."""
    from core import files

    at = layers(model)
    sentences = [*reference, *(s for s in extra if s not in reference)]
    read = vectors.word_vectors_many(model, sentences, at)
    arrays = {
        "sentences": np.array(sentences),
        "counts": np.array([len(w.words) for w in read], np.int32),
        "written": np.array([x for w in read for x in w.written]),
    }
    for layer in at:
        rows = np.concatenate([w.vectors[layer] for w in read]).astype(np.float16)
        if not np.isfinite(rows).all():
            raise ValueError(f"{model.name}'s layer {layer} vectors do not fit float16")
        arrays[f"layer_{layer}"] = rows
    about = {
        "weights_sha256": weights_sha256(model),
        "reference_sentences": len(reference),
        "layers": list(at),
        "command": COMMAND.format(name=model.name),
    }
    arrays["about"] = np.array(json.dumps(about))
    path = os.path.join(model.folder, FILE)
    with files.atomic(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


def read(model, reference: list[str]) -> dict[str, vectors.Words] | None:
    """{sentence: Words} from the model's file, with every layer the Contexts view asks of the model (ELMo's -1
    mixed by its mix.json, BERT's -1 its last layer), or None when the folder has no file or one written for
    other weights or other `reference` sentences (logged)."""
    path = os.path.join(model.folder, FILE)
    if not os.path.exists(path):
        return None
    with np.load(path, allow_pickle=False) as z:
        about = json.loads(str(z["about"]))
        stored = [str(s) for s in z["sentences"]]
        if (
            about.get("weights_sha256") != weights_sha256(model)
            or about.get("reference_sentences") != len(reference)
            or stored[: len(reference)] != reference
        ):
            log.warning("%s was written for other weights or sentences: not used (%s)", path, about.get("command"))
            return None
        counts, written = z["counts"], [str(w) for w in z["written"]]
        rows = {layer: z[f"layer_{layer}"].astype(np.float32) for layer in about["layers"]}
    elmo = kinds.kind(model) == kinds.ELMO
    if elmo:  # the mix of every row at once: the folder's own weights (lm.bilm.Embedding.mix)
        from lm.bilm import Embedding

        layered = np.stack([rows[k] for k in sorted(rows)])
        rows[-1] = Embedding(written, layered, model.mix_weights, model.mix_scale).mix()
    else:
        rows[-1] = rows[kinds.layers(model)]
    out, start = {}, 0
    for sentence, n in zip(stored, counts):
        words = written[start : start + n]
        v = {layer: r[start : start + n] for layer, r in rows.items()}
        out[sentence] = vectors.Words([w.lower() for w in words] if elmo else words, words, v)
        start += n
    return out


def main(argv=None) -> int:
    from core import model as folders
    from inside import contexts, reference
    from space.examples import CONTEXT_EXAMPLES  # the app's examples: what its first Compare shows

    p = argparse.ArgumentParser(prog="python -m inside.stored", description=__doc__.split("\n")[0])
    p.add_argument("--model", action="append", required=True, help="an ELMo or a BERT (bundled name or folder)")
    a = p.parse_args(argv)
    examples = [s for _, text in CONTEXT_EXAMPLES for s in contexts.split_labels(text.splitlines())[0]]
    for name in a.model:
        try:
            m = folders.load(name)
            kinds.layers(m)
            if kinds.kind(m) not in (kinds.ELMO, kinds.BERT):
                raise ValueError(f"{name} is {kinds.DESCRIPTION[kinds.kind(m)]}, not an ELMo or a BERT")
        except (OSError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(write(m, reference.Reference.senses().sentences, examples))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
