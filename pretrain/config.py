"""The settings of a pretraining run and the command line that makes them: `PretrainConfig` (what
`pretrain.train.train` takes), its parts, and `parser()` / `config_from_args()` for `python -m pretrain.train`.
Every check here runs before any corpus is read. `--hidden` is the old spelling of `--dim`, kept for one release.
"""

from __future__ import annotations

import dataclasses
import shlex

from core import cli, precision
from core.budget import Budget
from core.cli import UsageError
from core.optim import OptimizerConfig
from core.precision import POLICIES

NEGATIVES = "other-doc | same-doc | mix:R"
ATTENTION_INITS = ("local", "random")


# --------------------------------------------------------------------------------------------- configuration
def bert_optimizer(
    lr: float = 1e-3, warmup: int = 100, weight_decay: float = 0.01, clip_norm: float = 1.0
) -> OptimizerConfig:
    """BERT's optimizer: AdamW (epsilon 1e-6), linear warm-up then linear decay to 0, global-norm clipping, no
    decay on LayerNorm and biases (core.optim's rule)."""
    return OptimizerConfig(
        lr=lr, warmup=warmup, decay="linear", weight_decay=weight_decay, clip_norm=clip_norm, epsilon=1e-6
    )


def default_warmup(budget: Budget) -> int:
    """10% of --steps, at most 1000; 200 with --minutes."""
    return min(1000, budget.steps // 10) if budget.steps else 200


@dataclasses.dataclass
class Architecture:
    """A preset (tiny L2/H128, mini L4/H256, small L4/H512, base L12/H768) and what overrides it."""

    preset: str = "tiny"
    layers: int | None = None
    dim: int | None = None  # hidden size; intermediate = 4 x dim
    heads: int | None = None
    dropout: float = 0.1

    def bert_config(self, vocab_size: int = 8000):
        from pretrain.model import BertConfig

        return BertConfig.preset(
            self.preset,
            vocab_size=vocab_size,
            num_layers=self.layers,
            hidden_size=self.dim,
            num_heads=self.heads,
            dropout=self.dropout,
        )


@dataclasses.dataclass
class Masking:
    rate: float = 0.15  # share of the tokens chosen for MLM in training
    max_predictions: int = 20  # prediction slots per sequence


def same_doc_share(negatives: str) -> float:
    """The share of NotNext pairs whose B comes from A's own document: other-doc 0 (BERT's rule), same-doc 1,
    mix:R R (e.g. mix:0.5: half the negatives are hard ones)."""
    if negatives == "other-doc":
        return 0.0
    if negatives == "same-doc":
        return 1.0
    kind, _, ratio = negatives.partition(":")
    try:
        share = float(ratio) if kind == "mix" else None
    except ValueError:
        share = None
    if share is None or not 0 <= share <= 1:
        raise UsageError(f"--nsp-negatives must be {NEGATIVES} with R in [0, 1] (got {negatives!r})")
    return share


@dataclasses.dataclass
class PretrainConfig:
    corpus: str
    vocab: str  # a folder holding vocab.txt (python -m pretrain.vocab)
    out: str
    budget: Budget
    optimizer: OptimizerConfig = dataclasses.field(default_factory=bert_optimizer)
    architecture: Architecture = dataclasses.field(default_factory=Architecture)
    seq_len: int = 128
    batch_size: int = 32
    masking: Masking = dataclasses.field(default_factory=Masking)
    precision: str = "fp32"  # fp32 | bf16 | fp16
    jit: bool = False
    checkpoint_every: int = 500  # steps between validations and checkpoints
    seed: int = 0
    attention_init: str = "local"
    push_to_hub: str | None = None
    nsp_negatives: str = "other-doc"  # where NotNext B sentences come from (same_doc_share)
    nsp_distance: int = 3  # a same-document B starts at least this many sentences from the true next one

    def validate(self) -> PretrainConfig:
        """Every check that needs no file: bad input fails before the vocabulary or the corpus is read."""
        self.budget.validate()
        self.optimizer.validate()
        for flag, value in (
            ("--seq-len", self.seq_len),
            ("--batch-size", self.batch_size),
            ("--max-predictions", self.masking.max_predictions),
            ("--checkpoint-every", self.checkpoint_every),
            ("--layers", self.architecture.layers),
            ("--dim", self.architecture.dim),
            ("--heads", self.architecture.heads),
        ):
            if value is not None and value <= 0:
                raise UsageError(f"{flag} must be positive (got {value})")
        if not 0 < self.masking.rate < 1:
            raise UsageError(f"--mask-rate must be between 0 and 1 (got {self.masking.rate})")
        if not 0 <= self.architecture.dropout < 1:
            raise UsageError(f"--dropout must be in [0, 1) (got {self.architecture.dropout})")
        if self.seq_len < 8:
            raise UsageError(f"--seq-len {self.seq_len} is too short for [CLS] A [SEP] B [SEP]")
        try:
            precision.check(self.precision)  # core's one list of precisions and its message
        except ValueError as e:
            raise UsageError(str(e)) from None
        same_doc_share(self.nsp_negatives)
        if self.nsp_distance < 1:
            raise UsageError(f"--nsp-distance must be at least 1 (got {self.nsp_distance})")
        if self.attention_init not in ATTENTION_INITS:
            raise UsageError(f"--attention-init must be one of {', '.join(ATTENTION_INITS)}")
        c = self.architecture.bert_config()  # an unknown preset is a ValueError that names the presets
        if self.seq_len > c.max_positions:
            raise UsageError(f"--seq-len {self.seq_len} is beyond the model's {c.max_positions} positions")
        if c.hidden_size % c.num_heads:
            raise UsageError(f"hidden size {c.hidden_size} is not divisible by {c.num_heads} heads")
        return self

    def signature(self, bert_config) -> dict:
        """What a resume must not change (these keys are those of every checkpoint written so far; the NSP
        negatives only when they are not BERT's, so older checkpoints resume)."""
        negatives = {}
        if self.nsp_negatives != "other-doc":
            negatives = {"nsp_negatives": self.nsp_negatives, "nsp_distance": self.nsp_distance}
        return negatives | {
            "corpus": self.corpus,
            "config": dataclasses.asdict(bert_config),
            "seq_len": self.seq_len,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "mask_rate": self.masking.rate,
            "max_predictions": self.masking.max_predictions,
        }

    def command(self) -> str:
        """The command line that trains this config (what a card records for a run started from Python)."""
        a, o, b = self.architecture, self.optimizer, self.budget
        flags = [
            ("--corpus", self.corpus),
            ("--vocab", self.vocab),
            ("--out", self.out),
            ("--preset", a.preset),
            ("--layers", a.layers),
            ("--dim", a.dim),
            ("--heads", a.heads),
            ("--dropout", a.dropout),
            ("--seq-len", self.seq_len),
            ("--batch-size", self.batch_size),
            ("--steps", b.steps),
            ("--minutes", b.minutes),
            ("--lr", o.lr),
            ("--warmup", o.warmup),
            ("--weight-decay", o.weight_decay),
            ("--clip-norm", o.clip_norm),
            ("--mask-rate", self.masking.rate),
            ("--max-predictions", self.masking.max_predictions),
            ("--precision", self.precision),
            ("--checkpoint-every", self.checkpoint_every),
            ("--attention-init", self.attention_init),
            ("--seed", self.seed),
            ("--push-to-hub", self.push_to_hub),
        ]
        if self.nsp_negatives != "other-doc":
            flags += [("--nsp-negatives", self.nsp_negatives), ("--nsp-distance", self.nsp_distance)]
        argv = [x for flag, value in flags if value is not None for x in (flag, str(value))]
        return "python -m pretrain.train " + shlex.join(argv + (["--jit"] if self.jit else []))


def parser():
    p = cli.parser(
        "python -m pretrain.train",
        "Pretrain BERT (MLM + NSP) from scratch; the same command on the same --out resumes.",
    )
    p.add_argument("--corpus", required=True, help="kjv, shakespeare, kjv,shakespeare, a path or hf:NAME[:CONFIG]")
    p.add_argument("--vocab", required=True, help="folder with vocab.txt (python -m pretrain.vocab)")
    p.add_argument("--out", required=True, help="output folder; the same command on it resumes")
    p.add_argument("--preset", default="tiny", help="tiny (L2/H128), mini (L4/H256), small (L4/H512), base (L12/H768)")
    p.add_argument("--layers", type=int, help="override the preset's number of layers")
    p.add_argument("--dim", type=int, help="override the preset's hidden size (intermediate = 4x)")
    cli.alias(p, "--hidden", dest="dim", type=int)
    p.add_argument("--heads", type=int, help="override the preset's attention heads")
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=32)
    Budget.add_arguments(p)
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (AdamW)")
    p.add_argument(
        "--warmup", type=int, help="warm-up steps (default 10%% of --steps, at most 1000; 200 with --minutes)"
    )
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--clip-norm", type=float, default=1.0, help="global gradient-norm clipping")
    p.add_argument("--mask-rate", type=float, default=0.15)
    p.add_argument("--max-predictions", type=int, default=20)
    p.add_argument("--precision", choices=tuple(POLICIES), default="fp32")
    cli.add_jit(p, default=False)
    p.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints (and validations)")
    p.add_argument("--push-to-hub", metavar="REPO", help="upload the finished model to this Hugging Face repo")
    p.add_argument(
        "--attention-init",
        choices=ATTENTION_INITS,
        default="local",
        help="local: the first half of the layers start with heads on fixed neighbours (i-2, i-1, i+1, "
        "i+2), which skips the unigram plateau; random: BERT's own N(0, 0.02)",
    )
    p.add_argument(
        "--nsp-negatives",
        default="other-doc",
        metavar="KIND",
        help="where a NotNext B comes from: other-doc (BERT's rule), same-doc (a sentence of A's own document, "
        "--nsp-distance or more from the true next one: the hard negatives), or mix:R (a share R of same-doc)",
    )
    p.add_argument("--nsp-distance", type=int, default=3, help="sentences between the true next one and a same-doc B")
    p.add_argument("--seed", type=int, default=0)
    return p


def config_from_args(a) -> PretrainConfig:
    """The only place that reads the parsed arguments."""
    budget = Budget.from_args(a)
    warmup = a.warmup if a.warmup is not None else default_warmup(budget)
    return PretrainConfig(
        corpus=a.corpus,
        vocab=a.vocab,
        out=a.out,
        budget=budget,
        optimizer=bert_optimizer(a.lr, warmup, a.weight_decay, a.clip_norm),
        architecture=Architecture(a.preset, a.layers, a.dim, a.heads, a.dropout),
        seq_len=a.seq_len,
        batch_size=a.batch_size,
        masking=Masking(a.mask_rate, a.max_predictions),
        precision=a.precision,
        jit=a.jit,
        checkpoint_every=a.checkpoint_every,
        seed=a.seed,
        attention_init=a.attention_init,
        push_to_hub=a.push_to_hub,
        nsp_negatives=a.nsp_negatives,
        nsp_distance=a.nsp_distance,
    )
