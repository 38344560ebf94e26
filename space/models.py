"""The models the app serves: loaded once at start-up, warmed, then handed to the handlers (space.handlers.Handlers)
that every request goes through: `load()` returns a Registry, nothing here is module-global.

Which models: bundled ones by default (`lm.BUNDLED`, the bundled BERTs of BUNDLED_BERTS), or
  SEQLAB_LM_MODELS   comma list of bundled names, model folders or Hub repo ids (USER/REPO)
  SEQLAB_BERT_MODELS comma list of BERT names, folders or Hub repo ids; the first is the tabs' default
                     (SEQLAB_BERT_MODEL, one of them, is the older spelling)
  SEQLAB_CLASSIFIER  one bundled classifier name (default "sentiment"), classifier folder or Hub repo id
  SEQLAB_TRANSLATORS comma list of translator names, folders or Hub repo ids (default: the bundled ones present)
  SEQLAB_ENCODERS    comma list of ELMo names (lm.ENCODERS), bilm folders or Hub repo ids (default: the bundled
                     ones with weights): the Inside tab's contextual embeddings and /embed
  SEQLAB_ENGINE      "on" (default): every LM streams through one lm.engine.Engine (continuous batching, sized
                     by SEQLAB_ENGINE_SLOTS / _WAITING / _STEPS); "off": each request decodes alone at batch 1
(or the --lm-models / --bert-models / --classifier / --translators / --encoders flags of app.py, which win over the
environment).
A model that cannot be loaded (Hub unreachable, missing folder) is logged, noted in the About tab, and the
bundled models are loaded in its place, so the app always starts when the bundled models are there.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import threading
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

log = logging.getLogger("seqlab.space")

# The modern-English BERT first: it is what the Fill-mask and Sentence-pair tabs default to (issue 18)
BUNDLED_BERTS = ("bert-modern", "bert", "bert-imdb")
DEFAULT_CLASSIFIER = "sentiment"


@dataclasses.dataclass
class Registry:
    """What the app serves. `lms` keeps the load order: the first one is every dropdown's default.

    An LM is listed under its name (a folder's last part, or a bundled name); `aliases` maps what it was asked
    for by (the folder path or Hub repo id given in SEQLAB_LM_MODELS / --lm-models) to that name, so a client may
    pass either as `model`."""

    lms: dict[str, Any] = dataclasses.field(default_factory=dict)
    berts: dict[str, Any] = dataclasses.field(default_factory=dict)  # BERT name -> model; the first is the default
    classifier: Any | None = None
    notices: list[str] = dataclasses.field(default_factory=list)
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)  # load (+ warm-up unless deferred) per model
    aliases: dict[str, str] = dataclasses.field(default_factory=dict)
    translators: dict[str, Any] = dataclasses.field(default_factory=dict)  # the Translate tab's, in load order
    encoders: dict[str, Any] = dataclasses.field(default_factory=dict)  # ELMo name -> lm.bilm.BiLanguageModel
    engines: dict[str, Any] = dataclasses.field(default_factory=dict)  # LM name -> lm.engine.Engine (if on)
    engine_config: Any | None = None  # the lm.engine.EngineConfig the engines are built with; None: no engines
    later: list = dataclasses.field(default_factory=list)  # (name, warm-up) deferred to start_background
    _builder: Any | None = None  # the thread that warms `later` and builds the engines after start-up
    _settled: threading.Event = dataclasses.field(default_factory=threading.Event)  # set when that thread is done

    def streamer(self, m):
        """What streams from LM `m`: its engine when the app batches (and it is built), else the model itself
        (batch 1). Both have the same `stream(prompt, max_new_tokens, temperature, top_k, top_p, seed, stop)`."""
        return next((e for e in list(self.engines.values()) if e.model is m), m)

    def start_background(self, config=None, background: bool = True) -> None:
        """Run the warm-ups `load(defer_warm=True)` put off (the translators' decoding loops, the BERTs after the
        default one: ~8 s), then build one lm.engine.Engine per LM (each compiles its widths: a few seconds), in
        a background thread by default so the app is up meanwhile. Until then an LM's streams decode alone, and
        the other endpoints wait for it (`settle`). `config`: an lm.engine.EngineConfig (default: the one `load`
        noted); no engines without one. Once per registry.

        Start them after the page is built: TensorFlow's tracing parses Python source (`ast`), and so does
        Gradio when it defines a component class on first use (gr.api's); CPython 3.11 cannot parse in two
        threads at once ("AST constructor recursion depth mismatch", then an abort)."""
        if self._builder is not None:
            raise RuntimeError("start_background runs once per registry")
        self.engine_config = config or self.engine_config
        if background:
            self._builder = threading.Thread(target=self._background, name="warm-and-engines", daemon=True)
            self._builder.start()
        else:
            self._background()

    def settle(self, timeout: float = 120.0) -> None:
        """Wait until the background thread has run the deferred warm-ups, if it runs: a request that would
        compile a model's first path (a translator, a BERT, the Inside views) must not trace beside them (see
        start_background). Streams from the warmed LMs never wait. Seconds, and only just after start-up."""
        if self._builder is not None:
            self._settled.wait(timeout)

    def _background(self) -> None:
        try:
            if self.later:
                start = time.perf_counter()
                names = []
                for name, warm in self.later:
                    try:
                        warm()
                        names.append(name)
                    except Exception as e:  # its first request will compile the path itself; say so
                        message = f"{name} could not be warmed after start-up: {type(e).__name__}: {e}"
                        log.warning(message)
                        self.notices.append(message)
                log.info("warmed after start-up: %s in %.1f s", ", ".join(names), time.perf_counter() - start)
        finally:
            # requests wait for the deferred warm-ups only: the engines trace LM code that no request traces
            # (the LMs were warmed before start-up), and under load their build takes tens of seconds
            self._settled.set()
        if self.engine_config is not None:
            self._build_engines()

    def _build_engines(self) -> None:
        from lm.engine import Engine

        start = time.perf_counter()
        for name, m in list(self.lms.items()):
            self.engines[name] = Engine(m, self.engine_config)
        c = self.engine_config
        log.info(
            "LM engines ready (%s: %d slots, %d waiting, %d steps a call), built in %.1f s",
            ", ".join(self.engines),
            c.slots,
            c.waiting,
            c.steps,
            time.perf_counter() - start,
        )

    def close(self) -> None:
        """Stop the engines' threads (the app's exit, a test's end)."""
        if self._builder is not None:
            self._builder.join()
        for engine in self.engines.values():
            engine.close()
        self.engines.clear()

    @property
    def default_translator(self) -> str | None:
        """The Transformer when one is loaded (the better translator), else the first."""
        return next(
            (n for n, t in self.translators.items() if t.config.arch == "transformer"),
            next(iter(self.translators), None),
        )

    @property
    def bert(self):
        """The default BERT (the first loaded), or None."""
        return next(iter(self.berts.values()), None)

    @property
    def default_lm(self) -> str | None:
        return next(iter(self.lms), None)

    def lm_of_arch(self, arch: str) -> str | None:
        """The first loaded LM of an architecture ('lstm' or 'transformer'), for the side-by-side view."""
        return next((n for n, m in self.lms.items() if getattr(m.config, "arch", None) == arch), None)

    def find_lm(self, model: str) -> str | None:
        """The name of the loaded LM that `model` names (its name, or the spec it was loaded from), or None."""
        if model in self.lms:
            return model
        return self.aliases.get(model, self.aliases.get(os.path.normpath(model)))


def _split(specs: str | list[str] | None) -> list[str]:
    if specs is None:
        return []
    if isinstance(specs, str):
        specs = specs.split(",")
    return [s.strip() for s in specs if s and s.strip()]


def _bundled_lms() -> list[str]:
    import lm

    return [n for n in lm.BUNDLED if os.path.exists(os.path.join(lm.MODELS_DIR, n, "config.json"))]


def _warm_lm(m) -> None:
    """Run every code path a request uses (prefill, step, sampling settings, top-k candidates) once."""
    if hasattr(m, "warm_up"):
        m.warm_up()
    for _piece in m.stream("a", max_new_tokens=4, temperature=0.8, top_k=5, top_p=0.9, seed=0, stop=["\n\n"]):
        pass
    m.next_tokens("a", k=10)


def _warm_bert(b) -> None:
    """Both tasks once, then one input per padded length bucket the model compiles separately (if it has them),
    so a long text is no slower on its first request than later."""
    b.fill_mask("a [MASK] b", top_k=5)
    b.next_sentence("a b", "c d")
    for length in getattr(b, "buckets", ())[1:]:
        words = max(1, length // 2 - 3)
        try:
            b.next_sentence(" ".join(["the"] * words), " ".join(["the"] * words))
        except ValueError:  # longer than the model takes: the app never sends it (text limit)
            break


def _timed_load(what: str, spec: str, registry: Registry, load):
    """The model `load(spec)` returns, timed; or None after logging and noting why it could not be loaded."""
    start = time.perf_counter()
    try:
        model = load(spec)
    except Exception as e:  # OSError (missing, Hub unreachable), ValueError (bad folder), anything from loading
        message = f"{what} {spec!r} could not be loaded: {e}"
        log.warning(message)
        registry.notices.append(message)
        return None
    registry.seconds[getattr(model, "name", spec)] = seconds = time.perf_counter() - start
    log.info("loaded %s %s in %.1f s", what.lower(), spec, seconds)
    return model


def _load_lm(spec: str, registry: Registry, warm: bool) -> bool:
    import lm

    def load(spec):
        m = lm.load(spec)
        if warm:
            _warm_lm(m)
        return m

    m = _timed_load("Language model", spec, registry, load)
    if m is None:
        return False
    # two folders with the same base name: keep both, tell them apart
    name = spec if m.name in registry.lms else m.name
    registry.lms[name] = m
    for alias in (spec, os.path.normpath(spec)):
        if alias != name:
            registry.aliases.setdefault(alias, name)
    return True


def engine_config(environ=os.environ):
    """The lm.engine.EngineConfig the environment asks for, or None when SEQLAB_ENGINE=off."""
    from lm.engine import EngineConfig

    setting = environ.get("SEQLAB_ENGINE", "on").strip().lower()
    if setting in ("off", "0", "no", "false"):
        return None
    if setting not in ("on", "1", "yes", "true", ""):
        raise ValueError(f"SEQLAB_ENGINE must be on or off, got {setting!r}")
    config = EngineConfig()
    for field in ("slots", "waiting", "steps"):
        value = environ.get(f"SEQLAB_ENGINE_{field.upper()}")
        if value:
            setattr(config, field, int(value))
    return config.validate()


def _load_bert(spec: str, registry: Registry, warm: bool, defer: bool = False) -> bool:
    """`defer`: warm it in registry.start_background unless it is the first (the tabs' default)."""
    import pretrain

    later = warm and defer and bool(registry.berts)

    def load(spec):
        b = pretrain.load(spec)
        if warm and not later:
            _warm_bert(b)
        return b

    b = _timed_load("BERT model", spec, registry, load)
    if b is not None:
        name = spec if b.name in registry.berts else b.name
        registry.berts[name] = b
        if later:
            registry.later.append((name, functools.partial(_warm_bert, b)))
    return b is not None


def _bundled_berts() -> list[str]:
    from pretrain.api import MODELS

    return [n for n in BUNDLED_BERTS if os.path.exists(os.path.join(MODELS, n, "model.weights.h5"))]


def _load_classifier(spec: str, registry: Registry) -> bool:
    import classify

    # classify.load warms the model itself (one prediction: every request has the same shape)
    registry.classifier = _timed_load("Classifier", spec, registry, classify.load) or registry.classifier
    return registry.classifier is not None


def _bundled_translators() -> list[str]:
    import translate

    # weights, not just config.json: a bundled model still training has the config only
    return [n for n in translate.BUNDLED if os.path.exists(os.path.join(translate.MODELS_DIR, n, "model.weights.h5"))]


def _load_translators(specs: list[str], registry: Registry, warm: bool, defer: bool = False) -> None:
    """`defer`: warm their decoding loops in registry.start_background (they compile for seconds each)."""
    import translate

    def load(spec):
        t = translate.load(spec)
        if warm and not defer:
            t.warm_up()  # greedy and beam 4: the compiled decoding loops a request uses
        return t

    for spec in specs:
        t = _timed_load("Translator", spec, registry, load)
        if t is not None:
            name = spec if t.name in registry.translators else t.name
            registry.translators[name] = t
            if warm and defer:
                registry.later.append((name, t.warm_up))


def _bundled_encoders() -> list[str]:
    import lm

    return [n for n in lm.ENCODERS if os.path.exists(os.path.join(lm.MODELS_DIR, n, "model.weights.h5"))]


def _load_encoders(specs: list[str], registry: Registry, warm: bool) -> None:
    """Load each ELMo named (a folder whose config.json says arch "bilm"); one that cannot be is noted."""
    import lm

    def load(spec):
        e = lm.load(spec)
        if not hasattr(e, "embed"):
            raise ValueError(f"{spec} is a language model that generates (arch {e.config.arch!r}), not an ELMo (bilm)")
        if warm:
            e.embed("the bank of the river")
        return e

    for spec in specs:
        e = _timed_load("ELMo model", spec, registry, load)
        if e is not None:
            registry.encoders[spec if e.name in registry.encoders else e.name] = e


def load(
    lm_models: str | list[str] | None = None,
    bert_models: str | list[str] | None = None,
    warm: bool = True,
    classifier: str | None = None,
    translators: str | list[str] | None = None,
    engine=None,
    encoders: str | list[str] | None = None,
    start_engines: bool = True,
    defer_warm: bool = False,
) -> Registry:
    """Load (and warm) the models named by the arguments, else by the environment, else the bundled ones.
    `engine`: an lm.engine.EngineConfig, False for none (batch 1), None for what the environment says;
    `start_engines=False` notes it in `registry.engine_config` for the caller to `registry.start_background()`
    later (app.py: once the page is built). `defer_warm`: the translators and the BERTs after the default one
    are warmed there too, after start-up (app.py: ~8 s less before the first answer)."""
    config = engine_config() if engine is None else (engine or None)
    registry = Registry()
    lm_specs = _split(lm_models) or _split(os.environ.get("SEQLAB_LM_MODELS"))
    environ_berts = os.environ.get("SEQLAB_BERT_MODELS") or os.environ.get("SEQLAB_BERT_MODEL")
    bert_specs = _split(bert_models) or _split(environ_berts)
    bundled = _bundled_lms()
    failed = False
    for spec in lm_specs or bundled:
        failed |= not _load_lm(spec, registry, warm)
    if failed or not registry.lms:
        fallback = [n for n in bundled if n not in registry.lms]
        if lm_specs and fallback:
            registry.notices.append("Using the bundled language models instead: " + ", ".join(fallback) + ".")
        for spec in fallback:
            _load_lm(spec, registry, warm)
    if not registry.lms:
        raise RuntimeError(
            "no language model could be loaded: "
            + " ".join(registry.notices)
            + " (bundled models live in lm/models/; set SEQLAB_LM_MODELS to a model folder)"
        )
    for spec in bert_specs or _bundled_berts():
        _load_bert(spec, registry, warm, defer_warm)
    if bert_specs and not registry.berts:
        fallback = _bundled_berts()
        if fallback:
            registry.notices.append("Using the bundled BERT models instead: " + ", ".join(fallback) + ".")
        for spec in fallback:
            _load_bert(spec, registry, warm, defer_warm)
    if not registry.berts:
        registry.notices.append("No BERT model is loaded: Fill-mask and Sentence pair answer with an error.")
    clf_spec = (classifier or os.environ.get("SEQLAB_CLASSIFIER") or "").strip()
    if not _load_classifier(clf_spec or DEFAULT_CLASSIFIER, registry) and clf_spec and clf_spec != DEFAULT_CLASSIFIER:
        if _load_classifier(DEFAULT_CLASSIFIER, registry):
            registry.notices.append(f"Using the bundled classifier {DEFAULT_CLASSIFIER!r} instead.")
    if registry.classifier is None:
        registry.notices.append("No classifier is loaded: Classify answers with an error.")
    _load_translators(
        _split(translators) or _split(os.environ.get("SEQLAB_TRANSLATORS")) or _bundled_translators(),
        registry,
        warm,
        defer_warm,
    )
    if not registry.translators:
        registry.notices.append("No translator is loaded: Translate answers with an error.")
    # last: every bilm layer is named, but nothing built before the bundled models can shift their layer names
    encoder_specs = _split(encoders) or _split(os.environ.get("SEQLAB_ENCODERS"))
    _load_encoders(encoder_specs or _bundled_encoders(), registry, warm)
    if encoder_specs and not registry.encoders and _bundled_encoders():
        registry.notices.append("Using the bundled ELMo instead: " + ", ".join(_bundled_encoders()) + ".")
        _load_encoders(_bundled_encoders(), registry, warm)
    if not registry.encoders:
        registry.notices.append(
            "No ELMo is loaded: Inside → Contexts compares BERT's layers only, and /embed takes a BERT."
        )
    registry.engine_config = config
    if start_engines:
        registry.start_background()
    return registry
