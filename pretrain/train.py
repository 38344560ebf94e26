"""Pretrain BERT (MLM + NSP) from scratch: `python -m pretrain.train --corpus kjv,shakespeare --vocab DIR --out DIR`.

    python -m pretrain.train --corpus kjv,shakespeare --vocab runs/bert --out runs/bert --preset mini --dim 224 \\
        --steps 8000 --lr 1e-3 --mask-rate 0.3 --max-predictions 40

The loop is core.trainer's (budget, resume, checkpoints, NaN stop, history, TensorBoard, progress); this file gives
it what is BERT's own (`PretrainTask`): the token shards (OUT/work/data, built once per corpus, vocabulary and
seed), the batch of step n (a pure function of the seed and n: masks drawn anew each step), the model and its MLM
+ NSP losses, the validation on fixed held-out batches (every --eval-every steps, by default at each checkpoint),
and the model folder: config.json, model.weights.h5, vocab.txt, metrics.json, loss_curve.png and a model card.
--warmup defaults to 10% of --steps, at most 1000 (200 with --minutes). Running the same command again on the same
--out resumes from its last checkpoint; a larger --steps extends a finished run (the rate jumps back to where a run
of that length would be at that step, then decays to 0 at the new end). The last stdout line is metrics.json's JSON.

On several devices a JAX process trains data parallel (keras.distribution.DataParallel: model.train_on_batch
splits each batch over the devices); a TensorFlow process trains on one device (see pretrain.distributed.start).
With --distribute data, every process of a job runs the same command and the model is data parallel over all
their devices; process 0 writes --out (pretrain.distributed):

    KERAS_BACKEND=jax KERAS_DISTRIBUTION_JOB_ADDRESSES=host0:1234 KERAS_DISTRIBUTION_NUM_PROCESSES=2 \
        KERAS_DISTRIBUTION_PROCESS_ID=0 python -m pretrain.train ... --distribute data   # and id 1 elsewhere

From Python:

    from core.budget import Budget
    from pretrain.config import PretrainConfig
    from pretrain.train import train
    metrics = train(PretrainConfig(corpus="kjv", vocab="runs/bert", out="runs/b", budget=Budget(steps=500)))
"""

from __future__ import annotations

import hashlib
import os
import shlex
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from core import cli, files, flags, optim, precision
from core.cli import UsageError
from core.optim import OptimizerConfig
from core.trainer import Trainer
from pretrain.config import PretrainConfig, same_corpus, same_doc_share

VAL_FRACTION = 0.1
VAL_BATCHES = 32  # fixed validation set: up to 32 batches of held-out pairs with fixed masks
METRICS = ("mlm_loss", "mlm_accuracy", "nsp_loss", "nsp_accuracy")
COMMAND = "python -m pretrain.train"


# ---------------------------------------------------------------------------------------------------- data
def prepare_data(
    corpus_name: str,
    tokens: list[str],
    work: str,
    seed: int = 0,
    resuming: bool = False,
    cap: float | None = None,
) -> str:
    """Token shards for the train and held-out splits under WORK/data, built once per (corpus, vocab, seed, cap).
    Each document keeps its corpus (the index of its part of `a,b`: same-corpus NSP negatives); `cap` limits the
    share of the training text one corpus of a mix gives (cap_shares)."""
    import corpus
    from pretrain import data, vocab

    names = corpus.parts(corpus_name)
    loaded = [corpus.load(name) for name in names]  # cheap once cached
    docs = [d for part in loaded for d in part]
    source_of = {id(d): i for i, part in enumerate(loaded) for d in part}
    # the fingerprint notices a corpus that changed under a name
    fingerprint = hashlib.sha256("".join(f"{d.group}\t{len(d.text)}\n" for d in docs).encode()).hexdigest()[:16]
    key = {
        "corpus": corpus_name,
        "documents": fingerprint,
        "vocab": vocab_fingerprint(tokens),
        "seed": seed,
        "val_fraction": VAL_FRACTION,
    }
    if cap is not None:
        key["corpus_cap"] = cap
    folder = os.path.join(work, "data")
    meta = os.path.join(folder, "key.json")
    if os.path.exists(meta):
        old = files.read_json(meta)
        if old == key:
            return folder
        if resuming and old.get("documents") != fingerprint:
            raise UsageError(
                f"the documents of corpus {corpus_name!r} changed since this run's checkpoints in "
                f"{work}: resuming would mix two data sets; use another --out"
            )
    train_docs, val_docs = corpus.split(docs, VAL_FRACTION)  # not --seed: the same held-out text for every model
    train_docs = cap_shares(train_docs, [source_of[id(d)] for d in train_docs], cap, seed)
    tok = vocab.make_tokenizer(tokens)
    os.makedirs(folder, exist_ok=True)
    for name, part in (("train", train_docs), ("val", val_docs)):
        data.write_shards(
            [data.sentences(d.text) for d in part],
            tok,
            os.path.join(folder, name),
            seed=seed,
            sources=[source_of[id(d)] for d in part],
        )
    files.write_json(meta, key)
    return folder


def cap_shares(docs: list, sources: list[int], cap: float | None, seed: int = 0) -> list:
    """The documents of a mix with no corpus above `cap` of the text (characters, which track tokens): a larger
    corpus keeps a random subset of its documents (seeded) that brings it to the cap, measured against the other
    corpora's full size (so a cap below 1 / the number of corpora cuts all of them); None keeps everything, so
    each corpus weighs by its size."""
    import numpy as np

    if cap is None or len(set(sources)) < 2:
        return docs
    size = np.array([len(d.text) for d in docs], dtype=np.float64)
    src = np.array(sources)
    totals = {s: size[src == s].sum() for s in set(sources)}
    keep = np.ones(len(docs), bool)
    rng = np.random.default_rng([seed, 7])
    for s, total in totals.items():
        others = sum(t for k, t in totals.items() if k != s)
        allowed = cap / (1 - cap) * others if cap < 1 else total  # s's text over the whole = cap
        if total > allowed:
            mine = np.flatnonzero(src == s)
            order = mine[rng.permutation(len(mine))]
            kept_size = np.cumsum(size[order])
            keep[order[kept_size > allowed]] = False
    return [d for d, k in zip(docs, keep) if k]


def vocab_fingerprint(tokens: list[str]) -> str:
    return hashlib.sha256("\n".join(tokens).encode()).hexdigest()[:16]


# ------------------------------------------------------------------------------------------------- model
def compile_model(model, optimizer: OptimizerConfig, total_steps: int, jit: bool = False):
    """AdamW from core.optim (pretrain.config.bert_optimizer), the masked-mean MLM loss + NSP loss, and their
    accuracies. The optimizer is built here, before the first step: TensorFlow traces a first call that creates
    variables twice."""
    import keras

    ce = keras.losses.SparseCategoricalCrossentropy
    model.compile(
        optimizer=optim.make_optimizer(optimizer, total_steps),
        # MLM: mean over the real predictions only (unused slots have weight 0), as in BERT
        loss={"mlm": ce(from_logits=True, reduction="mean_with_sample_weight"), "nsp": ce(from_logits=True)},
        weighted_metrics={
            "mlm": [keras.metrics.SparseCategoricalAccuracy("accuracy")],
            "nsp": [keras.metrics.SparseCategoricalAccuracy("accuracy")],
        },
        jit_compile=bool(jit),
    )
    model.optimizer.build(model.trainable_variables)
    return model


def validate(model, batches) -> dict:
    """MLM and NSP loss and accuracy on the fixed held-out batches, rounded to 5 decimals."""
    logs = model.evaluate(x=(b for b in batches), steps=len(batches), verbose=0, return_dict=True)
    return {k: round(float(logs[k]), 5) for k in METRICS}


# ------------------------------------------------------------------------------------------------ the task
class PretrainTask:
    """What pretraining gives core.trainer: its settings, shards and batches, model, validation and folder."""

    name = "pretrain.train"
    curve_label = "loss"

    def __init__(self, config: PretrainConfig, world=None):
        from pretrain import card, distributed, vocab

        self.config = config
        self.world = world or distributed.World()  # the processes and devices (pretrain.distributed.start)
        self.curve = card.CURVES
        self.tokens = vocab.read_vocab(config.vocab)
        self.bert_config = config.architecture.bert_config(len(self.tokens))

    def settings(self) -> dict:
        """What decides the model and its data stream, by flag: a resume must not change it."""
        c, b, m = self.config, self.bert_config, self.config.masking
        return {
            "corpus": c.corpus,
            "vocab": f"{len(self.tokens)} tokens, sha256 {vocab_fingerprint(self.tokens)}",
            "layers": b.num_layers,
            "dim": b.hidden_size,
            "heads": b.num_heads,
            "dropout": b.dropout,
            "seq_len": c.seq_len,
            "batch_size": c.batch_size,
            "mask_rate": m.mask_rate,
            "max_predictions": m.max_predictions,
            "nsp_negatives": c.nsp_negatives,
            "nsp_distance": c.nsp_distance,
            "attention_init": c.attention_init,
            "seed": c.seed,
            **({"corpus_cap": c.corpus_cap} if c.corpus_cap is not None else {}),  # runs before it had none
        }

    def prepare(self, run) -> None:
        """The token shards (built on the first run), the training stream and the fixed validation batches."""
        from pretrain import data, vocab

        c, work = self.config, os.path.join(self.config.out, "work")
        if not run.resumed and os.path.isdir(os.path.join(work, "checkpoints")):
            raise UsageError(
                f"{run.out} holds a run in the layout before core.trainer (work/checkpoints), which this version "
                "does not resume: use another --out"
            )
        from pretrain import distributed

        self.run = run
        # the shards live in --out: process 0 builds them, the others wait for it and then find them made
        if self.world.writes:
            folder = prepare_data(c.corpus, self.tokens, work, c.seed, run.resumed, c.corpus_cap)
        distributed.barrier(self.world, "pretrain data")
        if not self.world.writes:
            folder = prepare_data(c.corpus, self.tokens, work, c.seed, run.resumed, c.corpus_cap)
        specials = {s: self.tokens.index(s) for s in vocab.SPECIALS}
        negatives = {
            "same_doc": same_doc_share(c.nsp_negatives),
            "distance": c.nsp_distance,
            "same_source": same_corpus(c.nsp_negatives),
            "part": self.world.part,  # this process's rows of each batch
        }
        m = c.masking
        self.train_batches = data.Batches(
            os.path.join(folder, "train"),
            c.seq_len,
            c.batch_size,
            len(self.tokens),
            m.mask_rate,
            m.max_predictions,
            c.seed,
            specials,
            **negatives,
        )
        # validation masks as BERT and pretrain.evaluate do, whatever --mask-rate training uses, so runs compare;
        # its NSP negatives are the ones it trains on (pretrain.evaluate scores both kinds)
        self.val_batches = data.Batches(
            os.path.join(folder, "val"),
            c.seq_len,
            c.batch_size,
            len(self.tokens),
            data.BERT_MASK_RATE,
            data.bert_max_predictions(c.seq_len),
            c.seed,
            specials,
            **negatives,
        ).fixed(VAL_BATCHES)
        run.say(f"validation: {len(self.val_batches)} fixed batches of held-out documents")

    def build(self, total_steps: int):
        """The model, built and compiled in --precision and over the data-parallel devices; a fresh run with
        --attention-init local starts the first half of the layers' heads on their neighbours."""
        from pretrain import distributed
        from pretrain import model as bert

        c, b = self.config, self.bert_config
        distributed.use(self.world)
        with precision.policy(c.precision):
            model = bert.build(b)
            if c.attention_init == "local" and not self.run.resumed:
                bert.local_attention_init(
                    model, offsets=(-2, -1, 1, 2), layers=range((b.num_layers + 1) // 2), seed=c.seed
                )
            return compile_model(model, c.optimizer, total_steps, c.jit)

    def batch(self, step: int):
        return self.train_batches.at(step)

    def evaluate(self, model, run) -> dict:
        return {f"val_{k}": v for k, v in validate(model, self.val_batches).items()}

    def finish(self, model, run) -> dict:
        """config.json, model.weights.h5 and vocab.txt; the metrics (the last validation's figures, named as in
        every metrics.json so far)."""
        from pretrain import model as bert
        from pretrain import vocab

        if self.world.writes:
            bert.save(model, run.out)
            vocab.write_vocab(self.tokens, run.out)
        last = next(row for row in reversed(run.state["history"]) if "val_mlm_loss" in row)  # the last step's
        c = self.config
        return {
            **{k: last[f"val_{k}"] for k in sorted(METRICS)},
            "steps": run.step,
            "corpus": c.corpus,
            "preset": c.architecture.preset,
            "seq_len": c.seq_len,
            "batch_size": c.batch_size,
            "attention_init": c.attention_init,
            "mask_rate": c.masking.mask_rate,
            "nsp_negatives": c.nsp_negatives,
            "nsp_distance": c.nsp_distance,
            **({"corpus_cap": c.corpus_cap} if c.corpus_cap is not None else {}),
            "parameters": int(model.count_params()),
            **self.world.figures(c.batch_size),
        }

    def card(self, metrics: dict, run):
        from pretrain import card

        return card.make(run.out, metrics, run.state["commands"], self.bert_config)


def train(config: PretrainConfig, command: str | None = None, listeners=None) -> dict:
    """Train (or resume, or extend) the run in config.out; returns its metrics (as written to metrics.json).
    `command`: the command line the card records (default: the flags that give this config). With --push-to-hub
    the finished folder is uploaded once the trainer has written all of it."""
    from pretrain import distributed

    command = command or f"{COMMAND} {shlex.join(flags.argv(config))}"
    config.validate()
    world = distributed.start(config.distribute, config.batch_size)
    task = PretrainTask(config, world)
    listeners = list(listeners or [])
    if config.push_to_hub:

        def push_when_done(event) -> None:
            if event.kind == "done":  # metrics.json, the loss curve and the card are written by then
                push(event.message, config.push_to_hub)

        if world.writes:
            listeners.append(push_when_done)
    try:
        return Trainer(task, config, listeners, writes=world.writes).run(command)  # --out: process 0 writes
    except Exception as e:
        if world.processes > 1 and distributed.is_collective_failure(e):
            raise distributed.Lost(world, e) from None
        raise


def push(out: str, repo: str) -> None:
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        api.create_repo(repo, exist_ok=True)
        ignore = ["work/*", "logs/*", "checkpoint-*", "checkpoint.json", ".*"]  # the model, not the run's files
        api.upload_folder(folder_path=out, repo_id=repo, ignore_patterns=ignore)
    except Exception as e:  # offline, no token, no rights: the trained model is safe on disk either way
        raise OSError(
            f"the model is saved in {out}, but pushing it to {repo} failed: {type(e).__name__}: {e}"
        ) from None
    print(f"pushed to https://huggingface.co/{repo}", file=sys.stderr)


# ------------------------------------------------------------------------------------------------------- CLI
def parser():
    p = flags.add(cli.parser(COMMAND, __doc__), PretrainConfig)
    p.epilog = (
        "--warmup defaults to 10% of --steps, at most 1000 (200 with --minutes); --eval-every to --checkpoint-every. "
        "The same command on the same --out resumes; a larger --steps extends a finished run."
    )
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = f"{COMMAND} {shlex.join(argv)}"
    code = cli.run(parser(), argv, lambda args: train(flags.build(PretrainConfig, args), command))
    if code and "jax" in sys.modules:
        import jax

        if jax.process_count() > 1:  # a failed job: the others may be gone (pretrain.distributed.leave)
            from pretrain import distributed

            distributed.leave(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
