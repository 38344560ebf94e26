"""Model card (README.md, through core.card.Card) and loss-curve PNG for a trained SeqLab BERT folder."""

from __future__ import annotations

import dataclasses
import os

from core.card import Card, loss_curve

INIT_NOTE = {
    "local": "`local`: the heads of the first half of the layers start on the neighbours i-2, i-1, i+1, i+2 "
    "(`pretrain.model.local_attention_init`); the architecture is BERT's, only the starting weights differ",
    "random": "`random`: BERT's own N(0, 0.02) for every weight",
}

EARLY_MODERN = (
    'bert.fill_mask("in the beginning god created the [MASK] and the earth")\n'
    'bert.next_sentence("to be, or not to be:", "that is the question")',
    "Trained on a few million words of Early Modern English (King James Bible, Shakespeare): it knows "
    "that register and little else, and its predictions carry the biases of those texts.",
)
OTHER = (
    'bert.fill_mask("the acting was [MASK] and the story was dull.")\n'
    'bert.next_sentence("I saw this film last night.", "The acting was wonderful.")',
    "Trained from scratch on `{corpus}` only: it knows that text's register and little else, and its "
    "predictions carry the biases of that text.",
)

CURVES = [
    ("mlm_loss", "MLM loss (train)"),
    ("nsp_loss", "NSP loss (train)"),
    ("val_mlm_loss", "MLM loss (validation)"),
    ("val_nsp_loss", "NSP loss (validation)"),
]


def plot(path: str, history: list[dict], validation: list[dict]) -> bool:
    """Training MLM/NSP loss (window means) and validation points; False when there is nothing to plot."""
    if not history:
        return False
    rows = history + [
        {"step": v["step"], "val_mlm_loss": v["mlm_loss"], "val_nsp_loss": v["nsp_loss"]} for v in validation
    ]
    return loss_curve(rows, path, CURVES)


def _load_name(folder: str) -> str:
    """What pretrain.load takes for this folder: a bundled model's name, else the folder as given."""
    from pretrain.api import MODELS

    inside = os.path.dirname(os.path.abspath(folder)) == os.path.abspath(MODELS)
    return os.path.basename(os.path.abspath(folder)) if inside else folder


def make(folder: str, metrics: dict, commands: list, config) -> Card:
    """The card of a finished run: `metrics` as in its metrics.json (a `note` key says what the commands do not),
    `commands` its [start step, command] list, `config` its BertConfig."""
    old_english = {"kjv", "shakespeare"} & set(metrics["corpus"].split(","))
    example, limits = EARLY_MODERN if old_english else OTHER
    cfg = dataclasses.asdict(config)
    facts = [
        ("Corpus", f"`{metrics['corpus']}` (10% of document groups held out for validation)"),
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
            ("Validation (held-out documents)", table),
            ("Export", "For Hugging Face transformers: `python -m pretrain.export --model FOLDER --out HFDIR`."),
            ("Limits", limits.format(corpus=metrics["corpus"])),
        ],
    )


def write(folder: str, metrics: dict, history: list[dict], validation: list[dict], commands: list, config) -> str:
    """loss_curve.png (when there is a history) and README.md in `folder`; returns the card's path."""
    plot(os.path.join(folder, "loss_curve.png"), history, validation)
    return make(folder, metrics, commands, config).write(folder)
