"""The model card (README.md) of a trained translator, through core.card; its loss curve's series (the trainer draws
it from the run's history)."""

from __future__ import annotations

import os
import re

from core.card import Card, loss_curve

CURVE = [("train_loss", "train (smoothed targets)"), ("val_loss", "validation")]  # history keys, labels
CURVE_LABEL = "loss (nats/target token)"


def _direction(metrics: dict, flags: bool = False) -> str:
    """An hf: set's chosen direction (--source-lang / --target-lang), as a note or as the flags; "" otherwise."""
    if not metrics.get("languages"):
        return ""
    source, target = metrics["languages"]
    return f" --source-lang {source} --target-lang {target}" if flags else f" ({source} → {target})"


def _describe(c) -> str:
    shared = "; one embedding matrix for both sides (joint vocabulary)" if c.share_embeddings else ""
    return _architecture(c) + shared


def _architecture(c) -> str:
    if c.arch == "rnn":
        attention = {
            "bahdanau": "Bahdanau (additive) attention",
            "luong": "Luong (multiplicative) attention",
            "none": "no attention (the decoder starts from the encoder's last state only)",
        }[c.attention]
        return (
            f"a bidirectional {c.cell.upper()} encoder ({c.dim // 2} units each way) and a {c.cell.upper()} "
            f"decoder ({c.dim} units) with {attention}"
        )
    return (
        f"a Transformer encoder-decoder, {c.layers}+{c.layers} layers, {c.dim}-d, {c.heads} heads, FFN "
        f"{c.ffn_dim}, {c.positions} positions, tied target embeddings"
    )


def _batches(metrics: dict) -> str:
    window = metrics.get("length_window", 0)
    if not window:
        return "random pairs, padded to the length limit"
    return f"pairs of similar lengths (sorted {window} batches at a time), each batch cut to its longest row"


def _averaged(metrics: dict) -> str:
    """--ema: the shipped weights are the moving average; the curve below is the trained weights'."""
    if "ema" not in metrics:
        return ""
    raw = metrics.get("val_loss_trained_weights")
    return (
        f" (the weights' moving average at momentum {metrics['ema']}, which these files hold"
        + (f"; the trained weights themselves: {raw:.4f}" if raw is not None else "")
        + ")"
    )


def decoding_text(folder: str) -> str:
    """The card's Decoding section: the length penalty the folder's decoding.json holds (translate.tune), or
    GNMT's 0.6 when it has none."""
    from translate.translator import Decoding

    d = Decoding.load_or_default(folder)
    if not d.tuned:
        return (
            f"Beam search ranks finished translations with GNMT's length penalty at alpha {d.alpha} (the default: no "
            f"`decoding.json`). `python -m translate.tune --model {folder} --pair PAIR --write` chooses it on "
            "validation data; `translate(..., alpha=)` overrides it."
        )
    scores = ", ".join(f"{r['alpha']}: {r['bleu']}" for r in d.tuned.get("scores", []))
    return (
        f"Beam search ranks finished translations with GNMT's length penalty at alpha {d.alpha}, chosen on "
        f"{d.tuned.get('data', 'held-out pairs')} ({d.tuned.get('sentences', '?')} sentences, beam "
        f"{d.tuned.get('beam', '?')}; BLEU by alpha {scores}) by "
        f"`{d.tuned.get('command', 'python -m translate.tune --write')}`, which wrote `decoding.json`. "
        "`translate(..., alpha=)` overrides it."
    )


def set_decoding(folder: str) -> None:
    """Rewrite the Decoding section of the folder's README.md from its decoding.json (after translate.tune)."""
    from core import files

    path = os.path.join(folder, "README.md")
    if not os.path.exists(path):
        return
    text = open(path, encoding="utf-8").read()
    section = "## Decoding\n\n" + decoding_text(folder) + "\n\n"
    if "## Decoding\n" in text:
        text = re.sub(r"## Decoding\n.*?(?=\n## |\Z)", lambda m: section.rstrip("\n") + "\n", text, flags=re.S)
    elif "## Evaluate\n" in text:
        text = text.replace("## Evaluate\n", section + "## Evaluate\n", 1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    files.write_text(path, text)


def commands_of(metrics: dict) -> list:
    """[start step, command] of each command that trained the run: metrics.json keeps the list when there were
    several, the one command otherwise."""
    return metrics.get("commands") or [[0, metrics["command"]]]


def model_card(folder: str, config, metrics: dict, commands: list) -> Card:
    """The card of translator folder `folder`: its TranslatorConfig, its metrics (translate.train's, with the
    trainer's step and seconds) and the commands that trained it ([start step, command])."""
    return Card(
        title=os.path.basename(os.path.normpath(folder)),
        summary=f"A translator trained from scratch by SeqLab's `translate.train` on `{metrics['pair']}`: "
        f"{_describe(config)}; {metrics['parameters']:,} parameters, "
        + (
            f"one joint subword (BPE) vocabulary of {config.src_vocab:,} tokens."
            if config.share_embeddings
            else f"subword (BPE) vocabularies of {config.src_vocab:,} source and {config.tgt_vocab:,} target tokens."
        ),
        tags=["translation", "seq2seq", config.arch],
        language=None,
        facts=[
            (
                "pair",
                f"`{metrics['pair']}`{_direction(metrics)} ({metrics['train_pairs']:,} training pairs"
                + (
                    f", {metrics['sentence_pairs']:,} of them single sentences cut from verses"
                    if metrics.get("sentence_pairs")
                    else ""
                )
                + f"; {metrics['dropped_pairs']:,} over {config.max_src_len} subwords left out)",
            ),
            ("batches", _batches(metrics)),
            ("steps", f"{metrics['step']:,} at batch {metrics['batch_size']}"),
            (
                "training time",
                f"{metrics['seconds'] / 60:.1f} min on {metrics['machine']}"
                + (f", {metrics['precision']} matmuls" if metrics.get("precision") else ""),
            ),
            ("validation loss", f"{metrics['val_loss']:.4f} nats/target token" + _averaged(metrics)),
            (
                "validation BLEU (greedy)",
                f"{metrics['val_bleu_greedy']:.1f} on the first "
                f"{metrics['bleu_pairs']} verses (chrF {metrics['val_chrf_greedy']:.1f})",
            ),
        ],
        commands=[tuple(c) for c in commands],
        note=metrics.get("note"),  # how the run came to be where its commands do not say
        usage=f'import translate\nt = translate.load("{folder}")\n'
        'print(t.translate("Where is the train station?", beam=4)[0].text)',
        sections=[
            ("Decoding", decoding_text(folder)),
            (
                "Evaluate",
                f"`python -m translate.evaluate --model {folder} --pair {metrics['pair']}"
                f"{_direction(metrics, flags=True)} --split test`"
                " scores the held-out test books with sacrebleu (BLEU, chrF, signatures).",
            ),
            (
                "Limits",
                "Trained on Bible verses only: it knows that register (and the 1909 Spanish of its "
                f"targets, in modern spelling), reads at most {config.max_src_len} subwords at a time "
                "(`translate_text` cuts a longer text at sentence and clause breaks), and carries the biases of "
                "those texts.",
            ),
        ],
    )


def main(argv=None) -> int:
    """`python -m translate.card FOLDER`: write the card again from the folder's metrics.json (e.g. after adding a
    "note" there: how a run came to be where its commands do not say), and the loss curve from its last
    checkpoint's history when it has one."""
    import sys

    from core import checkpoint, files
    from translate.model import TranslatorConfig

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m translate.card FOLDER", file=sys.stderr)
        return 2
    folder = argv[0]
    found = checkpoint.latest(folder)
    if found:
        loss_curve(checkpoint.read_state(found)["history"], os.path.join(folder, "loss_curve.png"), CURVE, CURVE_LABEL)
    metrics = files.read_json(os.path.join(folder, "metrics.json"))
    model_card(folder, TranslatorConfig.load(folder), metrics, commands_of(metrics)).write(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
