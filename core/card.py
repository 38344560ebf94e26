"""One model card writer and one loss-curve plotter for every trainer.

    from core.card import Card, loss_curve
    loss_curve(history, "runs/x/loss_curve.png", [("train_loss", "train"), ("val_loss", "validation")])
    Card(title="my-lm", summary="A char LSTM.", tags=["text-generation"], facts=[("steps", "3,000")],
         commands=[(0, "python -m lm.train ...")], usage="import lm\\nlm.load('runs/x')").write("runs/x")

The card is a Hugging Face model card (huggingface_hub.ModelCard: YAML metadata, then markdown), so the Hub
shows its tags and library; it is written atomically. History rows are dicts ({"step": 10, "train_loss": 2.3});
a series is drawn wherever its key is present.
"""

from __future__ import annotations

import dataclasses
import os

from core import files


def loss_curve(history: list[dict], path: str, series: list[tuple[str, str]], ylabel: str = "loss") -> bool:
    """Plot each (key, label) series of `history` against its "step"; False (nothing written) when empty."""
    lines = [(label, [(h["step"], h[key]) for h in history if h.get(key) is not None]) for key, label in series]
    lines = [(label, points) for label, points in lines if points]
    if not lines:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for label, points in lines:
        sparse = len(points) < 40  # validation points: few, so marked
        ax.plot(*zip(*points), label=label, marker="o" if sparse else None, markersize=3, alpha=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with files.atomic(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return True


@dataclasses.dataclass
class Card:
    title: str
    summary: str  # a paragraph: what the model is
    tags: list[str] = dataclasses.field(default_factory=list)
    language: str | None = "en"
    facts: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # a two-column table
    commands: list[tuple[int, str | None]] = dataclasses.field(default_factory=list)  # (start step, command)
    note: str | None = None  # how the run came to be where its command does not say
    usage: str | None = None  # a runnable Python snippet
    sections: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (heading, markdown)
    plot: str | None = "loss_curve.png"  # shown when that file exists in the folder

    def reproduce(self) -> str:
        if len(self.commands) == 1:
            text = f"Reproduce:\n\n```\n{self.commands[0][1]}\n```\n"
        else:
            text = "Commands (each resumed the one before on the same folder, at the step shown):\n\n" + "".join(
                f"- step {step}: " + (f"`{cmd}`" if cmd else "(not recorded: made before SeqLab kept commands)") + "\n"
                for step, cmd in self.commands
            )
        return text + (f"\nNote: {self.note}\n" if self.note else "")

    def render(self, folder: str) -> str:
        from huggingface_hub import ModelCard, ModelCardData

        meta = ModelCardData(language=self.language, library_name="keras", tags=["seqlab", *self.tags])
        body = [f"# {self.title}", "", self.summary, ""]
        if self.facts:
            body += ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in self.facts] + [""]
        if self.commands:
            body += [self.reproduce()]
        if self.plot and os.path.exists(os.path.join(folder, self.plot)):
            body += [f"![loss curve]({self.plot})", ""]
        if self.usage:
            body += ["## Use", "", "```python", self.usage.strip(), "```", ""]
        for heading, text in self.sections:
            body += [f"## {heading}", "", text.strip(), ""]
        return str(ModelCard(f"---\n{meta.to_yaml()}\n---\n" + "\n".join(body)))

    def write(self, folder: str) -> str:
        path = os.path.join(folder, "README.md")
        files.write_text(path, self.render(folder))
        return path
