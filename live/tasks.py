"""pretrain's and lm's tasks for core.trainer, as a live job runs them: the same data, model, loss and folder,
plus what the visitor watches (`report`: baselines and the data views once the data is read, a probe's answer
every PROBE_SECONDS at an evaluation), and the settings that fit seconds of training on two cores.

    from live.tasks import bert_config, LiveBert
    config = bert_config(corpus="jobs/1/corpus", vocab="jobs/1/vocab", out="jobs/1/bert", seconds=30)
    task = LiveBert(config, report=print, probe={"text": "the lord is my [MASK] ."}, sentence="In the beginning")
    core.trainer.Trainer(task, config).run("live")
"""

from __future__ import annotations

import time

import numpy as np

from core.budget import Budget
from core.optim import OptimizerConfig
from lm.model import LMConfig
from lm.train import LMTask, TrainConfig
from pretrain.config import Architecture, Masking, PretrainConfig, bert_optimizer
from pretrain.train import PretrainTask

VOCAB_SIZE = 2000  # WordPiece pieces trained on the visitor's text (a short text gives fewer)
BERT_SEQ_LEN, BERT_BATCH = 64, 16
# 64-character windows: a step takes half a 128-window's time and teaches a model this small about as much
LM_SEQ_LEN, LM_BATCH = 64, 32
TRANSFORMER = LMConfig(arch="transformer", level="char", seq_len=LM_SEQ_LEN, layers=2, dim=64, heads=4, dropout=0.0)
# each model's peak learning rate: the one that reached the lowest held-out loss in a few hundred steps
LM_LR = {"lstm": 2e-2, "transformer": 1e-2}
HELDOUT_CHARS = 8192  # the LM's held-out windows, every evaluation and the final figure: one compiled pass
VAL_BATCHES = 16  # BERT's held-out batches at each evaluation: 256 pairs (pretrain's 32 would take longer)
EVAL_EVERY = {"bert": 20, "lm": 25}  # steps between held-out points: a few seconds apart on two cores
PROBE_SECONDS = 3.0
NEVER = 10**9  # checkpoint_every: a live run checkpoints only at its end (the trainer always does)


def bert_config(corpus: str, vocab: str, out: str, seconds: float) -> PretrainConfig:
    """A tiny BERT (L2/H128) on 64-token pairs, batch 16, a short warm-up: what learns something in seconds."""
    return PretrainConfig(
        corpus=corpus,
        vocab=vocab,
        out=out,
        budget=Budget(minutes=seconds / 60),
        architecture=Architecture(preset="tiny"),
        seq_len=BERT_SEQ_LEN,
        batch_size=BERT_BATCH,
        optimizer=bert_optimizer(lr=1e-3, warmup=20),
        masking=Masking(mask_rate=0.15, max_predictions=10),
        eval_every=EVAL_EVERY["bert"],
        checkpoint_every=NEVER,
        log_every=5,
    )


def transformer_parameters(c: LMConfig, vocab_size: int) -> int:
    """lm.model.TransformerLM's parameters: tied embedding, positions, blocks of 12 d^2 + 13 d, final norm."""
    d = c.dim
    return vocab_size * d + c.seq_len * d + c.layers * (12 * d * d + 13 * d) + 2 * d


def lstm_parameters(dim: int, layers: int, vocab_size: int) -> int:
    """lm.model.RecurrentLM's parameters (LSTM cells): embedding, 4 gates a layer, the output layer."""
    return vocab_size * dim + layers * (8 * dim * dim + 4 * dim) + dim * vocab_size + vocab_size


def matched_lstm(transformer: LMConfig, vocab_size: int, layers: int = 1) -> LMConfig:
    """The LSTM LM whose parameter count is nearest the Transformer's."""
    target = transformer_parameters(transformer, vocab_size)
    dim = min(range(8, 1024), key=lambda d: abs(lstm_parameters(d, layers, vocab_size) - target))
    return LMConfig(arch="lstm", level="char", seq_len=transformer.seq_len, layers=layers, dim=dim, dropout=0.0)


def lm_config(corpus: str, out: str, seconds: float, model: LMConfig) -> TrainConfig:
    return TrainConfig(
        corpus=corpus,
        out=out,
        budget=Budget(minutes=seconds / 60),
        model=model,
        optimizer=OptimizerConfig(lr=LM_LR[model.arch], warmup=20, decay="cosine"),
        batch_size=LM_BATCH,
        eval_every=EVAL_EVERY["lm"],
        checkpoint_every=NEVER,
        log_every=5,
    )


def compiled(model):
    """`model` as lm.evaluate.mean_loss calls it, through its compiled predict function."""
    return lambda inputs, training=False: model.predict_on_batch(inputs)


class _Probing:
    """What both live tasks add: the model kept for its warm-up, and the probe, every PROBE_SECONDS at an
    evaluation, the model's answer to the current probe text (which the visitor may change while it trains:
    `probe["text"]`)."""

    def build(self, total_steps: int):
        self.model = super().build(total_steps)
        return self.model

    def _probe_due(self) -> bool:
        now = time.monotonic()
        if now - getattr(self, "_probed", -1e9) < PROBE_SECONDS or not self.probe.get("text"):
            return False
        self._probed = now
        return True


class LiveBert(_Probing, PretrainTask):
    """PretrainTask, reporting its baselines, its vocabulary and a training pair, and BERT's top 5 for the probe."""

    def __init__(self, config: PretrainConfig, report, probe: dict, sentence: str):
        super().__init__(config)
        self.report, self.probe, self.sentence = report, probe, sentence

    def prepare(self, run) -> None:
        from live import baselines, views
        from pretrain import vocab

        super().prepare(run)
        self.val_batches = self.val_batches[:VAL_BATCHES]
        specials = [self.tokens.index(s) for s in vocab.SPECIALS]
        tokens = np.concatenate([np.asarray(s.tokens) for s in self.train_batches.shards])
        self.report(
            {"type": "baselines", **baselines.bert_baselines(tokens, self.val_batches, len(self.tokens), specials)}
        )
        tokenizer = vocab.make_tokenizer(self.tokens)
        x, y, w = self.train_batches.at(0)
        self.report(
            {
                "type": "views",
                "vocabulary": views.vocabulary(self.tokens, tokenizer, self.sentence, self.config.seed),
                "pair": views.bert_pair(x, y, w, self.tokens, self.tokens.index("[MASK]")),
            }
        )
        self.tokenizer = tokenizer

    def warm(self) -> None:
        """Compile the evaluation once, before the training proper (live.job calls it after the first step)."""
        from pretrain.train import validate

        validate(self.model, self.val_batches[:1])

    def evaluate(self, model, run) -> dict:
        from live.probes import fill_mask

        figures = super().evaluate(model, run)
        if self._probe_due():
            text = self.probe["text"]
            answer = fill_mask(
                model, self.tokenizer, self.tokens, text, self.config.seq_len, self.config.masking.max_predictions
            )
            self.report({"type": "probe", "text": text, "answer": answer})
        return figures


class LiveLM(_Probing, LMTask):
    """LMTask, reporting its baselines (and, with `views`, one training window) and a sample for the probe."""

    def __init__(self, config: TrainConfig, report, probe: dict, views: bool = True, seed: int = 1, after=None):
        super().__init__(config)
        self.report, self.probe, self.views, self.probe_seed = report, probe, views, seed
        self.after = after  # a threading.Event: this model's first step waits for it (the other's first step)

    def prepare(self, run) -> None:
        from live import baselines
        from live import views as shown

        super().prepare(run)
        # the final held-out loss on the same windows as every evaluation and the baselines (not all of them:
        # that would take longer than the training)
        seq_len = self.model_config.seq_len
        self.val_data.ids = self.val_data.ids[: seq_len * max(1, HELDOUT_CHARS // seq_len) + 1]
        self.val = self.val_data.windows(seq_len)
        targets = self.val[1]
        self.report(
            {
                "type": "baselines",
                **baselines.lm_baselines(self.train_data.ids, targets, self.val[2], len(self.tokenizer)),
            }
        )
        if self.views:
            inputs, wanted = self.batch(0)
            self.report({"type": "views", "window": shown.lm_window(inputs[0], wanted[0], self.tokenizer.vocab)})

    def warm(self) -> None:
        """Compile the evaluation's and the probe's forward passes (their two shapes) once, before the training
        proper (live.job calls it after the first step): compiled mid-training, beside the other model's
        steps, they stalled both."""
        self.model.predict_on_batch(self.val[0])
        self.model.predict_on_batch(np.zeros((1, self.model_config.seq_len), np.int32))

    def batch(self, step: int):
        if self.after is not None:
            self.after.wait()  # TensorFlow traces a first step by parsing Python: one thread at a time
            self.after = None
        return super().batch(step)

    def evaluate(self, model, run) -> dict:
        from live.probes import sample
        from lm.evaluate import mean_loss

        # every held-out window in one compiled forward pass (Keras's predict function, XLA like the training
        # step), not lm.train's eager calls: an LSTM's eager pass over 128 steps holds its thread for seconds
        figures = {"val_loss": mean_loss(compiled(model), *self.val, batch=len(self.val[0]))}
        if self._probe_due():
            text = self.probe["text"]
            answer = sample(model, self.tokenizer, text, self.model_config.seq_len, seed=self.probe_seed)
            self.report({"type": "probe", "text": text, "answer": answer})
        return figures
