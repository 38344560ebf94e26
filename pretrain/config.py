"""The settings of a pretraining run: `PretrainConfig`, what `pretrain.train.train` takes, and its parts. Their
fields are the command line of `python -m pretrain.train` (core.flags); every check here runs before any corpus is
read.

    from core.budget import Budget
    from pretrain.config import Architecture, PretrainConfig
    config = PretrainConfig(corpus="kjv", vocab="runs/bert", out="runs/bert", budget=Budget(steps=2000),
                            architecture=Architecture(preset="mini", dim=224))
    config = PretrainConfig(data="data/kjv", out="runs/bert", budget=Budget(steps=2000))   # pretrain.prepare's
"""

from __future__ import annotations

import dataclasses

from core import flags, precision
from core.budget import Budget
from core.cli import UsageError
from core.optim import OptimizerConfig
from core.trainer import RunConfig

NEGATIVES = "other-doc | same-corpus | same-doc | mix:R"
ATTENTION_INITS = ("local", "random")


def bert_optimizer(
    lr: float = 1e-3, warmup: int | None = 100, weight_decay: float = 0.01, clip_norm: float = 1.0
) -> OptimizerConfig:
    """BERT's optimizer: AdamW (epsilon 1e-6), linear warm-up then linear decay to 0, global-norm clipping, no
    decay on LayerNorm and biases (core.optim's rule). `warmup=None`: PretrainConfig's default (default_warmup)."""
    return OptimizerConfig(
        lr=lr, warmup=warmup, decay="linear", weight_decay=weight_decay, clip_norm=clip_norm, epsilon=1e-6
    )


def default_warmup(budget: Budget) -> int:
    """10% of --steps, at most 1000; 200 with --minutes."""
    return min(1000, budget.steps // 10) if budget.steps else 200


@dataclasses.dataclass
class Architecture:
    """A preset (tiny L2/H128, mini L4/H256, small L4/H512, base L12/H768) and what overrides it."""

    preset: str = flags.field("tiny", help="tiny (L2/H128), mini (L4/H256), small (L4/H512), base (L12/H768)")
    layers: int | None = flags.field(None, help="override the preset's number of layers")
    dim: int | None = flags.field(None, help="override the preset's hidden size (intermediate = 4x)")
    heads: int | None = flags.field(None, help="override the preset's attention heads")
    dropout: float = flags.field(0.1, help="dropout in every layer")

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
    mask_rate: float = flags.field(0.15, help="share of the tokens chosen for MLM in training (validation: 15%%)")
    max_predictions: int = flags.field(20, help="MLM prediction slots per sequence")


def same_doc_share(negatives: str) -> float:
    """The share of NotNext pairs whose B comes from A's own document: other-doc and same-corpus 0, same-doc 1,
    mix:R R (e.g. mix:0.5: half the negatives are hard ones)."""
    if negatives in ("other-doc", "same-corpus"):
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


def same_corpus(negatives: str) -> bool:
    """same-corpus: a NotNext B from another document of A's own corpus (in a mix of corpora; on one corpus it is
    BERT's other-doc rule)."""
    return negatives == "same-corpus"


@dataclasses.dataclass(kw_only=True)
class PretrainConfig(RunConfig):
    corpus: str | None = flags.field(
        None, help="kjv, shakespeare, kjv,shakespeare, a path or hf:NAME[:CONFIG], prepared into --out first"
    )
    vocab: str | None = flags.field(
        None, help="folder with vocab.txt (python -m pretrain.vocab); with --data, the data's own (default)"
    )
    data: str | None = flags.field(
        None,
        help="a folder python -m pretrain.prepare wrote: train on its shards and vocabulary (instead of --corpus)",
        metavar="DIR",
    )
    architecture: Architecture = flags.field(factory=Architecture)
    seq_len: int = flags.field(128, help="tokens a sequence: [CLS] A [SEP] B [SEP]")
    batch_size: int = flags.field(32, help="sequences a step")
    # warmup None: default_warmup, resolved by validate (it depends on the budget)
    optimizer: OptimizerConfig = flags.field(factory=lambda: bert_optimizer(warmup=None))
    masking: Masking = flags.field(factory=Masking)
    precision: str = flags.field("fp32", help="compute precision", choices=tuple(precision.POLICIES))
    jit: bool = flags.field(False, help="XLA-compile the train step")
    checkpoint_every: int = flags.field(500, help="steps between checkpoints")
    # None: validation at every checkpoint
    eval_every: int | None = flags.field(None, help="steps between validations (default: --checkpoint-every)")
    attention_init: str = flags.field(
        "local",
        help="local: the first half of the layers start with heads on fixed neighbours (i-2, i-1, i+1, i+2), "
        "which skips the unigram plateau; random: BERT's own N(0, 0.02)",
        choices=ATTENTION_INITS,
    )
    push_to_hub: str | None = flags.field(
        None, help="upload the finished model to this Hugging Face repo", metavar="REPO"
    )
    nsp_negatives: str = flags.field(
        "other-doc",
        help="where a NotNext B comes from: other-doc (BERT's rule: any other document), same-corpus (another "
        "document of A's own corpus, in a mix of corpora), same-doc (a sentence of A's own document, "
        "--nsp-distance or more from the true next one: the hard negatives), or mix:R (a share R of same-doc)",
        metavar="KIND",
    )
    nsp_distance: int = flags.field(3, help="sentences between the true next one and a same-doc B")
    corpus_cap: float | None = flags.field(
        None,
        help="in a mix of corpora (--corpus a,b), the largest share of the training text one corpus may give: a "
        "larger one's training documents are subsampled to it (default: each corpus by its size, in tokens)",
        metavar="SHARE",
    )
    distribute: str | None = flags.field(
        None,
        help="data: data parallel over every device of every process (JAX; run the same command on each; "
        "keras.distribution.initialize reads KERAS_DISTRIBUTION_JOB_ADDRESSES, _NUM_PROCESSES and _PROCESS_ID, "
        "or Slurm / Open MPI); process 0 writes --out",
        choices=("data",),
        metavar="KIND",
    )

    def validate(self) -> PretrainConfig:
        """Every check that needs no file: bad input fails before the vocabulary or the corpus is read. Fills
        the defaults that follow other settings: --eval-every from --checkpoint-every, --warmup from the
        budget (default_warmup)."""
        if self.eval_every is None:
            self.eval_every = self.checkpoint_every
        if (self.corpus is None) == (self.data is None):
            both = ", not both" if self.corpus is not None else ""
            raise UsageError(
                f"give --corpus (a corpus, prepared into --out first) or --data (a folder python -m pretrain.prepare "
                f"wrote){both}"
            )
        if self.corpus is not None and not self.vocab:
            raise UsageError("--corpus needs --vocab: a folder with vocab.txt (python -m pretrain.vocab)")
        if self.data is not None and self.corpus_cap is not None:
            raise UsageError("--corpus-cap is a setting of the prepared data: python -m pretrain.prepare --corpus-cap")
        super().validate()
        if self.optimizer.warmup is None:
            self.optimizer = dataclasses.replace(self.optimizer, warmup=default_warmup(self.budget))
        self.optimizer.validate()
        a, m = self.architecture, self.masking
        for flag, value in (
            ("--seq-len", self.seq_len),
            ("--batch-size", self.batch_size),
            ("--max-predictions", m.max_predictions),
            ("--layers", a.layers),
            ("--dim", a.dim),
            ("--heads", a.heads),
        ):
            if value is not None and value <= 0:
                raise UsageError(f"{flag} must be positive (got {value})")
        if not 0 < m.mask_rate < 1:
            raise UsageError(f"--mask-rate must be between 0 and 1 (got {m.mask_rate})")
        if not 0 <= a.dropout < 1:
            raise UsageError(f"--dropout must be in [0, 1) (got {a.dropout})")
        if self.seq_len < 8:
            raise UsageError(f"--seq-len {self.seq_len} is too short for [CLS] A [SEP] B [SEP]")
        try:
            precision.check(self.precision)  # core's one list of precisions and its message
        except ValueError as e:
            raise UsageError(str(e)) from None
        same_doc_share(self.nsp_negatives)
        if self.corpus_cap is not None and not 0 < self.corpus_cap <= 1:
            raise UsageError(f"--corpus-cap must be a share in (0, 1] (got {self.corpus_cap})")
        if self.nsp_distance < 1:
            raise UsageError(f"--nsp-distance must be at least 1 (got {self.nsp_distance})")
        if self.attention_init not in ATTENTION_INITS:
            raise UsageError(f"--attention-init must be one of {', '.join(ATTENTION_INITS)}")
        c = a.bert_config()  # an unknown preset is a ValueError that names the presets
        if self.seq_len > c.max_positions:
            raise UsageError(f"--seq-len {self.seq_len} is beyond the model's {c.max_positions} positions")
        if c.hidden_size % c.num_heads:
            raise UsageError(f"hidden size {c.hidden_size} is not divisible by {c.num_heads} heads")
        if self.distribute is not None:
            from pretrain import distributed

            if self.distribute not in distributed.CHOICES:
                raise UsageError(f"--distribute must be one of {', '.join(distributed.CHOICES)}")
            distributed.check_environment()
            distributed.check_backend(self.distribute)
        return self
