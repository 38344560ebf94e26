"""Pretrain BERT (MLM + NSP) from scratch: `python -m pretrain.train --corpus kjv,shakespeare --vocab DIR --out DIR`.

    python -m pretrain.train --corpus kjv,shakespeare --vocab runs/bert --out runs/bert --preset mini --dim 224 \\
        --steps 8000 --lr 1e-3 --mask-rate 0.3 --max-predictions 40

The loop is core.trainer's (budget, resume, checkpoints, NaN stop, history, TensorBoard, progress); this file gives
it what is BERT's own (`PretrainTask`): the token shards (--data, a folder `python -m pretrain.prepare` wrote; or
with --corpus, OUT/work/data, which the same code prepares once per corpus, vocabulary and seed), the batch of step
n (a pure function of the seed and n: masks drawn anew each step), the model and its MLM + NSP losses, the
validation on fixed held-out batches (every --eval-every steps, by default at each checkpoint), and the model
folder: config.json, model.weights.h5, vocab.txt, metrics.json, loss_curve.png and a model card.
--warmup defaults to 10% of --steps, at most 1000 (200 with --minutes). Running the same command again on the same
--out resumes from its last checkpoint; a larger --steps extends a finished run (the rate jumps back to where a run
of that length would be at that step, then decays to 0 at the new end). The last stdout line is metrics.json's JSON.

On several devices a JAX process trains data parallel (keras.distribution.DataParallel: model.train_on_batch
splits each batch over the devices); a TensorFlow process trains on one device (see pretrain.distributed.start).
With --distribute data, every process of a job runs the same command and the model is data parallel over all
their devices; process 0 writes --out (pretrain.distributed):

    KERAS_BACKEND=jax KERAS_DISTRIBUTION_JOB_ADDRESSES=host0:1234 KERAS_DISTRIBUTION_NUM_PROCESSES=2 \
        KERAS_DISTRIBUTION_PROCESS_ID=0 python -m pretrain.train ... --distribute data   # and id 1 elsewhere

A large corpus is prepared once, as a stream, and trained on as often as wanted (pretrain.prepare):

    python -m pretrain.prepare --corpus big.txt --vocab 30000 --out data/big
    python -m pretrain.train --data data/big --out runs/bert-big --preset base --steps 100000

From Python:

    from core.budget import Budget
    from pretrain.config import PretrainConfig
    from pretrain.train import train
    metrics = train(PretrainConfig(corpus="kjv", vocab="runs/bert", out="runs/b", budget=Budget(steps=500)))
"""

from __future__ import annotations

import os
import shlex
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from core import cli, files, flags, optim, precision
from core.cli import UsageError
from core.optim import OptimizerConfig
from core.trainer import Trainer
from pretrain.config import PretrainConfig, same_corpus, same_doc_share

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
    """The one-command form's data: WORK/data, a folder pretrain.prepare writes from the corpus (the same code as
    `python -m pretrain.prepare`), made once per (corpus, its documents, vocab, seed, cap). A folder already there
    is checked by reading the corpus once (no tokenizing): a resume whose corpus changed under its name is refused,
    it would mix two data sets."""
    from pretrain import prepare

    folder = os.path.join(work, "data")
    config = prepare.PrepareConfig(corpus=corpus_name, vocab="the run's --vocab", out=folder, seed=seed, corpus_cap=cap)
    manifest = os.path.join(folder, prepare.MANIFEST)
    if os.path.exists(manifest) or os.path.exists(os.path.join(folder, "key.json")):
        old = files.read_json(manifest) if os.path.exists(manifest) else {}
        documents = prepare.fingerprint(corpus_name)
        if prepare.key_of(old) == prepare.key(config, documents, tokens):
            return folder
        if resuming and old.get("split") != prepare.SPLIT:
            raise UsageError(
                f"the data in {folder} was split into train and held-out text by another rule than this version's: "
                "resuming would mix two data sets; use another --out"
            )
        if resuming and old.get("documents") != documents:
            raise UsageError(
                f"the documents of corpus {corpus_name!r} changed since this run's checkpoints in "
                f"{work}: resuming would mix two data sets; use another --out"
            )
    os.makedirs(work, exist_ok=True)
    prepare.prepare(config, tokens)
    return folder


def prepared_data(config: PretrainConfig) -> tuple[dict, list[str]]:
    """--data's manifest and vocabulary; a --vocab given beside it must be the one the data was prepared with."""
    from pretrain import prepare, vocab

    manifest = prepare.read_manifest(config.data)
    tokens = vocab.read_vocab(config.data)
    if vocab.fingerprint(tokens) != manifest["vocab"]:
        raise UsageError(f"{config.data}/vocab.txt is not the vocabulary its {prepare.MANIFEST} names")
    if config.vocab:
        given = vocab.read_vocab(config.vocab)
        if given != tokens:
            raise UsageError(
                f"--vocab {config.vocab} ({len(given)} tokens, sha256 {vocab.fingerprint(given)}) is not the "
                f"vocabulary --data {config.data} was prepared with ({len(tokens)} tokens, sha256 "
                f"{manifest['vocab']}): leave --vocab out, or prepare the data with it"
            )
    return manifest, tokens


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
        self.manifest = None  # --data's (pretrain.prepare)
        if config.data is not None:
            self.manifest, self.tokens = prepared_data(config)
        else:
            self.tokens = vocab.read_vocab(config.vocab)
        self.bert_config = config.architecture.bert_config(len(self.tokens))

    @property
    def corpus(self) -> str:
        return self.manifest["corpus"] if self.manifest else self.config.corpus

    @property
    def data_key(self) -> str:
        """What --data's shards are: a resume on another preparation is refused by name."""
        m = self.manifest
        cap = f", cap {m['corpus_cap']}" if "corpus_cap" in m else ""
        return f"documents sha256 {m['documents']}, seed {m['seed']}{cap}, split {m['split']}"

    def settings(self) -> dict:
        """What decides the model and its data stream, by flag: a resume must not change it."""
        from pretrain import vocab

        c, b, m = self.config, self.bert_config, self.config.masking
        return {
            "corpus": self.corpus,
            **({"data": self.data_key} if self.manifest else {}),  # runs before --data had none
            "vocab": f"{len(self.tokens)} tokens, sha256 {vocab.fingerprint(self.tokens)}",
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
        if c.data is not None:  # prepared: every process reads it as it is
            folder = c.data
            train, val = self.manifest["train"], self.manifest["val"]
            run.say(
                f"data: {folder} ({self.manifest['corpus']}): {train['tokens']:,} training tokens in "
                f"{train['documents']:,} documents, {val['documents']:,} held out"
            )
        else:  # the shards live in --out: process 0 builds them, the others wait for it and then find them made
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
            "corpus": self.corpus,
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
