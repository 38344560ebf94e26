"""The shared core: each part does what its docstring promises, on real files and real Keras objects."""

import json
import os

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import checkpoint, files
from core.budget import Budget
from core.card import Card, loss_curve
from core.optim import OptimizerConfig, WarmupCosine, WarmupLinear, make_optimizer
from core.resolve import ModelNotFoundError, resolve


def test_atomic_write_leaves_old_file_when_the_writer_fails(tmp_path):
    path = str(tmp_path / "a.json")
    files.write_json(path, {"v": 1})
    with pytest.raises(RuntimeError):
        with files.atomic(path) as tmp:
            open(tmp, "w").write("half")
            raise RuntimeError("killed mid-write")
    assert json.load(open(path)) == {"v": 1}
    assert os.listdir(tmp_path) == ["a.json"]  # no temporary file left behind


@settings(max_examples=25, deadline=None)
@given(st.text())
def test_text_round_trips_through_atomic_write(tmp_path_factory, text):
    path = str(tmp_path_factory.mktemp("t") / "x.txt")
    files.write_text(path, text)
    assert open(path, encoding="utf-8", newline="").read() == text


def _model(dropout=0.5):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    # named layers: a checkpoint finds each weight by its path of layer names (core.checkpoint)
    x = keras.layers.LayerNormalization(name="norm")(keras.layers.Dense(8, name="hidden")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1, name="out")(keras.layers.Dropout(dropout, name="drop")(x)))
    model.compile(optimizer=make_optimizer(OptimizerConfig(lr=1e-2, warmup=2), 50), loss="mse")
    return model


def test_checkpoint_resume_reproduces_dropout_training_exactly(tmp_path):
    x, y = np.random.default_rng(0).normal(size=(16, 4)), np.zeros((16, 1))
    straight = _model()
    want = [float(straight.train_on_batch(x, y)) for _ in range(6)]
    first = _model()
    got = [float(first.train_on_batch(x, y)) for _ in range(3)]
    checkpoint.save(str(tmp_path), first, first.optimizer, {"step": 3})
    second = _model()
    second.optimizer.build(second.trainable_variables)
    keras.utils.set_random_seed(123)  # a resumed process does not replay the first one's RNG draws
    state = checkpoint.restore(checkpoint.latest(str(tmp_path)), second, second.optimizer)
    got += [float(second.train_on_batch(x, y)) for _ in range(3)]
    assert state == {"step": 3}
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_checkpoint_keeps_only_the_newest(tmp_path):
    model = _model()
    model.train_on_batch(np.ones((2, 4)), np.ones((2, 1)))
    for step in (1, 2):
        checkpoint.save(str(tmp_path), model, model.optimizer, {"step": step})
    assert sorted(os.listdir(tmp_path)) == ["checkpoint-2", "checkpoint.json"]
    assert checkpoint.latest(str(tmp_path)).endswith("checkpoint-2")
    assert checkpoint.restore(checkpoint.latest(str(tmp_path)), _model(), model.optimizer)["step"] == 2


def test_a_corrupted_checkpoint_names_its_file(tmp_path):
    model = _model()
    model.train_on_batch(np.ones((2, 4)), np.ones((2, 1)))
    path = checkpoint.save(str(tmp_path), model, model.optimizer, {"step": 1})
    with open(os.path.join(path, "model.weights.h5"), "r+b") as f:
        f.truncate(100)
    with pytest.raises(OSError, match="model.weights.h5 is truncated or corrupted"):
        checkpoint.restore(path, _model(), model.optimizer)


@pytest.mark.parametrize("cls", [WarmupCosine, WarmupLinear])
def test_schedules_round_trip_through_get_config_and_a_saved_model(cls, tmp_path):
    s = cls(1e-3, 10, 100)
    again = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(s))
    assert type(again) is cls and again.get_config() == s.get_config()
    steps = np.arange(0, 120, 7)
    np.testing.assert_allclose([float(again(i)) for i in steps], [float(s(i)) for i in steps])
    model = _model()
    model.optimizer.learning_rate = s
    model.save(tmp_path / "m.keras")
    assert keras.saving.load_model(tmp_path / "m.keras").optimizer._learning_rate.get_config() == s.get_config()


def test_schedule_shapes():
    cos, lin = WarmupCosine(1.0, 10, 110), WarmupLinear(1.0, 10, 110)
    assert float(cos(4)) == pytest.approx(0.5) and float(lin(5)) == pytest.approx(0.5)
    assert float(cos(110)) == pytest.approx(0.1) and float(lin(110)) == pytest.approx(0.0)
    assert float(lin(60)) == pytest.approx(0.5)


@pytest.mark.parametrize("cls", [WarmupCosine, WarmupLinear])
def test_a_new_end_reaches_the_compiled_step_without_retracing_it(cls):
    """What a --minutes run does once it has timed its steps (core.optim.set_total): the traced train step reads
    the schedule's new end, the same one, not a copy made for the old end."""
    from core.optim import current_lr, set_total

    model = _model()
    model.optimizer.learning_rate = cls(1.0, 2, 10**9)  # the trainer's end before it has timed any steps
    x, y = np.ones((4, 4), "float32"), np.ones((4, 1), "float32")
    model.train_on_batch(x, y)
    step = model.train_function
    set_total(model, 12)
    for _ in range(7):
        model.train_on_batch(x, y)
    if keras.backend.backend() == "tensorflow":
        assert model.train_function is step  # not retraced
    want = cls(1.0, 2, 12)
    assert float(model.optimizer.learning_rate) == pytest.approx(float(want(8)), rel=1e-5)  # after step 8 ran
    assert current_lr(model.optimizer._learning_rate, 11) == pytest.approx(float(want(11)), rel=1e-5, abs=1e-7)


def test_optimizer_skips_weight_decay_on_norms_and_biases():
    model = _model()
    model.optimizer.build(model.trainable_variables)
    decayed = {v.path for v in model.trainable_variables if model.optimizer._use_weight_decay(v)}
    assert decayed and all("kernel" in p for p in decayed)
    assert model.optimizer.global_clipnorm == 1.0


def test_resolve_has_one_error_type_and_message(tmp_path):
    (tmp_path / "bundled" / "tiny").mkdir(parents=True)
    (tmp_path / "bundled" / "tiny" / "config.json").write_text("{}")
    models = str(tmp_path / "bundled")
    assert resolve("tiny", models) == os.path.join(models, "tiny")
    with pytest.raises(ModelNotFoundError, match=r"model 'nope' not found: not a bundled model \(tiny\)"):
        resolve("nope", models)
    with pytest.raises(ModelNotFoundError, match="as a Hugging Face Hub repo id it could not be fetched"):
        resolve("someone/missing", models)  # HF_HUB_OFFLINE=1 in the tests: fails fast
    with pytest.raises(ModelNotFoundError, match="is not a SeqLab model folder: it lacks config.json"):
        resolve(str(tmp_path), models)
    assert issubclass(ModelNotFoundError, OSError) and issubclass(ModelNotFoundError, ValueError)
    (tmp_path / "more" / "other").mkdir(parents=True)
    (tmp_path / "more" / "other" / "config.json").write_text("{}")
    both = [models, str(tmp_path / "more")]  # several models folders: one list of names, looked up in order
    assert resolve("other", both) == os.path.join(both[1], "other")
    with pytest.raises(ModelNotFoundError, match=r"not a bundled model \(other, tiny\)"):
        resolve("nope", both)
    with pytest.raises(ModelNotFoundError, match="is not a SeqLab model folder: it lacks weights.h5"):
        resolve("tiny", both, needs=("config.json", "weights.h5"))


def test_budget_takes_exactly_one_positive_limit():
    assert Budget(steps=10).validate().steps_for(1.0) == 10
    assert Budget(minutes=1).validate().steps_for(0.5, seconds_spent=30, steps_done=60) == 120
    for bad in (Budget(), Budget(steps=1, minutes=1), Budget(steps=0), Budget(minutes=-1)):
        with pytest.raises(ValueError, match="budget"):
            bad.validate()


def test_card_is_a_hub_model_card_with_commands_and_curve(tmp_path):
    history = [{"step": s, "train_loss": 3 - s / 10} for s in range(1, 20)] + [{"step": 20, "val_loss": 1.5}]
    assert loss_curve(history, str(tmp_path / "loss_curve.png"), [("train_loss", "train"), ("val_loss", "validation")])
    assert not loss_curve([], str(tmp_path / "none.png"), [("train_loss", "train")])
    Card(
        title="tiny",
        summary="A test model.",
        tags=["test"],
        facts=[("steps", "20")],
        commands=[(0, "python -m lm.train --steps 10"), (10, "python -m lm.train --steps 20")],
        usage="print(1)",
    ).write(str(tmp_path))
    from huggingface_hub import ModelCard

    card = ModelCard.load(str(tmp_path / "README.md"))
    assert card.data.library_name == "keras" and "seqlab" in card.data.tags
    assert "- step 10: `python -m lm.train --steps 20`" in card.text and "![loss curve](loss_curve.png)" in card.text


def test_ema_exports_the_moving_average_of_the_weights_and_checkpoints_keep_it(tmp_path):
    """OptimizerConfig.ema: the optimizer tracks avg = m * avg + (1 - m) * w after each step (the first step
    copies w); finalize_weights puts avg into the model. A checkpoint restores the average with the rest."""
    from core.optim import finalize_weights

    def fresh():
        keras.utils.set_random_seed(0)
        m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="dense")], name="net")
        config = OptimizerConfig(lr=0.1, warmup=0, ema=0.5, clip_norm=0, weight_decay=0)
        m.compile(optimizer=make_optimizer(config, 100), loss="mse")
        return m

    model = fresh()
    x, y = np.random.default_rng(0).normal(size=(8, 3)), np.ones((8, 2))
    weights, average = [], None
    for _ in range(4):
        model.train_on_batch(x, y)
        w = [v.numpy().copy() for v in model.trainable_variables]
        weights.append(w)
        average = w if average is None else [0.5 * a + 0.5 * b for a, b in zip(average, w)]
    assert not np.allclose(weights[-1][0], average[0])  # the average lags the trained weights
    checkpoint.save(str(tmp_path), model, model.optimizer, {"step": 4})
    assert finalize_weights(model)
    for v, a in zip(model.trainable_variables, average):
        np.testing.assert_allclose(v.numpy(), a, rtol=1e-5, atol=1e-6)
    again = fresh()
    checkpoint.restore(checkpoint.latest(str(tmp_path)), again, again.optimizer)
    np.testing.assert_allclose(again.trainable_variables[0].numpy(), weights[-1][0], rtol=1e-6)  # trained weights
    finalize_weights(again)
    np.testing.assert_allclose(again.trainable_variables[0].numpy(), average[0], rtol=1e-5, atol=1e-6)
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    plain.compile(optimizer=make_optimizer(OptimizerConfig(), 10), loss="mse")
    assert not finalize_weights(plain)
    with pytest.raises(ValueError, match="--ema must be 0"):
        OptimizerConfig(ema=1.0).validate()


def test_precision_policy_builds_in_bf16_and_restores_float32():
    from core import precision

    with precision.policy("bf16"):
        layer = keras.layers.Dense(3)
        layer.build((None, 2))
    assert layer.compute_dtype == "bfloat16" and layer.kernel.dtype == "float32"  # float32 weights, bf16 matmuls
    assert keras.mixed_precision.global_policy().name == "float32"  # what is built after computes in float32
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        with precision.policy("fp32"):
            assert keras.layers.Dense(1).compute_dtype == "float32"
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"  # the policy found is put back
    finally:
        keras.mixed_precision.set_global_policy("float32")
    with pytest.raises(ValueError, match="--precision must be one of fp32, bf16, fp16"):
        precision.check("int8")
