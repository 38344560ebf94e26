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
LM_SEQ_LEN, LM_BATCH = 128, 32
TRANSFORMER = LMConfig(arch="transformer", level="char", seq_len=LM_SEQ_LEN, layers=2, dim=64, heads=4, dropout=0.0)
VAL_BATCHES = 8  # BERT's held-out batches at each evaluation (pretrain's 32 would take as long as the steps)
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
        optimizer=OptimizerConfig(lr=3e-3, warmup=20, decay="cosine"),
        batch_size=LM_BATCH,
        eval_every=EVAL_EVERY["lm"],
        checkpoint_every=NEVER,
        log_every=5,
    )


class _Probing:
    """The probe: every PROBE_SECONDS at an evaluation, the model's answer to the current probe text (which the
    visitor may change while it trains: `probe["text"]`)."""

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
        self.val_data.ids = self.val_data.ids[: self.model_config.seq_len * len(self.val[0]) + 1]
        _, targets = self.val[0], self.val[1]
        self.report(
            {
                "type": "baselines",
                **baselines.lm_baselines(self.train_data.ids, targets, self.val[2], len(self.tokenizer)),
            }
        )
        if self.views:
            inputs, wanted = self.batch(0)
            self.report({"type": "views", "window": shown.lm_window(inputs[0], wanted[0], self.tokenizer.vocab)})

    def batch(self, step: int):
        if self.after is not None:
            self.after.wait()  # TensorFlow traces a first step by parsing Python: one thread at a time
            self.after = None
        return super().batch(step)

    def evaluate(self, model, run) -> dict:
        from live.probes import sample

        figures = super().evaluate(model, run)
        if self._probe_due():
            text = self.probe["text"]
            answer = sample(model, self.tokenizer, text, self.model_config.seq_len, seed=self.probe_seed)
            self.report({"type": "probe", "text": text, "answer": answer})
        return figures
