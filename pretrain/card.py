"""The model card (README.md, a core.card.Card) of a trained SeqLab BERT folder, and its loss curve's series."""

from __future__ import annotations

import dataclasses
import os

from core.card import Card
from corpus import named

INIT_NOTE = {
    "local": "`local`: the heads of the first half of the layers start on the neighbours i-2, i-1, i+1, i+2 "
    "(`pretrain.model.local_attention_init`); the architecture is BERT's, only the starting weights differ",
    "random": "`random`: BERT's own N(0, 0.02) for every weight",
}

EARLY_MODERN = (
    'bert.fill_mask("and the [MASK] said unto moses,")\n'
    'bert.next_sentence("to be, or not to be:", "that is the question")',
    "Trained on a few million words of Early Modern English (King James Bible, Shakespeare): it knows "
    "that register and little else, and its predictions carry the biases of those texts.",
)
MODERN = (
    'bert.fill_mask("the movie was so [MASK] that i fell asleep.")\n'
    'bert.next_sentence("We must reduce the deficit.",\n'
    '                   "That is why I am sending Congress a budget that cuts spending.")',
    "Trained on `{corpus}` only: about fifty million characters of modern English, most of them movie reviews "
    "and political speeches; it knows those registers best, and its predictions carry the biases of those texts.",
)
OTHER = (
    'bert.fill_mask("the acting was [MASK] and the story was dull.")\n'
    'bert.next_sentence("I saw this film last night.", "The acting was wonderful.")',
    "Trained from scratch on `{corpus}` only: it knows that text's register and little else, and its "
    "predictions carry the biases of that text.",
)

CURVES = [  # (history key, label): core.trainer's rows, window means every --log-every steps and validations
    ("train_mlm_loss", "MLM loss (train)"),
    ("train_nsp_loss", "NSP loss (train)"),
    ("val_mlm_loss", "MLM loss (validation)"),
    ("val_nsp_loss", "NSP loss (validation)"),
]


def _load_name(folder: str) -> str:
    """What pretrain.load takes for this folder: a bundled model's name, else the folder as given."""
    from pretrain.api import MODELS

    inside = os.path.dirname(os.path.abspath(folder)) == os.path.abspath(MODELS)
    return os.path.basename(os.path.abspath(folder)) if inside else folder


NEGATIVES = {
    "other-doc": "BERT's: a NotNext B is a run of sentences from another document",
    "same-corpus": "`same-corpus`: a NotNext B is a run of sentences from another document of A's own corpus, so "
    "in a mix of corpora the head cannot score NSP by telling the corpora apart",
}


def _negatives(metrics: dict) -> str:
    kind = metrics.get("nsp_negatives", "other-doc")
    if kind in NEGATIVES:
        return NEGATIVES[kind]
    share = "all" if kind == "same-doc" else f"a share {kind.partition(':')[2]}"
    return (
        f"`{kind}`: {share} of the NotNext B runs come from A's own document, starting "
        f"{metrics.get('nsp_distance', 3)} or more sentences from the true next one (the rest from another "
        "document), so the head must judge the link between A and B, not tell documents apart"
    )


def make(folder: str, metrics: dict, commands: list, config) -> Card:
    """The card of a finished run: `metrics` as in its metrics.json (a `note` key says what the commands do not),
    `commands` its [start step, command] list, `config` its BertConfig."""
    names = metrics["corpus"].split(",")
    if {"kjv", "shakespeare"} & set(names):
        example, limits = EARLY_MODERN
    elif {"web", "brown"} & set(names):
        example, limits = MODERN
    else:
        example, limits = OTHER
    cfg = dataclasses.asdict(config)
    facts = [
        ("Corpus", f"`{metrics['corpus']}` (10% of document groups held out for validation)"),
        *([("Sources", "; ".join(named.source(n) for n in names))] if all(n in named.ABOUT for n in names) else []),
        ("NSP negatives", _negatives(metrics)),
        ("Steps", f"{metrics['steps']} (batch {metrics['batch_size']}, sequence {metrics['seq_len']})"),
        ("Training time", f"{metrics['seconds'] / 60:.1f} minutes"),
        ("Parameters", f"{metrics['parameters']:,}"),
        (
            "Vocabulary",
            f"{cfg['vocab_size']} WordPiece tokens (lowercase), made first by `python -m pretrain.vocab "
            f"--corpus {metrics['corpus']} --size {cfg['vocab_size']} --out DIR` (DIR = `--vocab`)",
        ),
        ("Initial attention", INIT_NOTE.get(metrics.get("attention_init", "random"), "")),
        (
            "Masking",
            f"{metrics.get('mask_rate', 0.15):.0%} of the tokens in training (80% [MASK], 10% random, 10% "
            "unchanged); validation always masks 15%, as BERT does",
        ),
    ]
    table = (
        "| MLM accuracy | MLM loss | NSP accuracy | NSP loss |\n|---|---|---|---|\n"
        f"| {metrics['mlm_accuracy']:.4f} | {metrics['mlm_loss']:.4f} | {metrics['nsp_accuracy']:.4f} "
        f"| {metrics['nsp_loss']:.4f} |"
    )
    return Card(
        title=f"SeqLab BERT ({metrics['preset']}, {cfg['num_layers']} layers, {cfg['hidden_size']} hidden)",
        summary="A BERT pretrained from scratch with masked language modelling and next-sentence prediction, as "
        "in Devlin et al. (2019), by SeqLab's `pretrain` package.",
        tags=["bert", "fill-mask", "next-sentence-prediction"],
        facts=facts,
        commands=[(int(step), line) for step, line in commands] or [(0, metrics["command"])],
        note=metrics.get("note"),  # how the run came to be where the commands do not say (hardware, history)
        usage=f'import pretrain\nbert = pretrain.load("{_load_name(folder)}")   # a bundled name, a folder or a '
        f"hub repo id\n{example}",
        sections=[
            ("Validation (held-out documents; NSP negatives as in training)", table),
            ("Export", "For Hugging Face transformers: `python -m pretrain.export --model FOLDER --out HFDIR`."),
            ("Limits", limits.format(corpus=metrics["corpus"])),
        ],
    )
