"""The models the app serves: loaded once at start-up, warmed, then handed to the handlers (space.handlers.Handlers)
that every request goes through: `load()` returns a Registry, nothing here is module-global.

Which models (SERVED: one row per kind, each loaded through core.model): bundled ones by default (`lm.BUNDLED`,
the bundled BERTs of BUNDLED_BERTS, ...), or
  SEQLAB_LM_MODELS   comma list of bundled names, model folders or Hub repo ids (USER/REPO)
  SEQLAB_BERT_MODELS comma list of BERT names, folders or Hub repo ids; the first is the tabs' default
  SEQLAB_CLASSIFIER  one bundled classifier name (default "sentiment"), classifier folder or Hub repo id
  SEQLAB_TRANSLATORS comma list of translator names, folders or Hub repo ids (default: the bundled ones present)
  SEQLAB_ENCODERS    comma list of ELMo names (lm.ENCODERS), bilm folders or Hub repo ids (default: the bundled
                     ones with weights): the Inside tab's contextual embeddings and /embed
  SEQLAB_ENGINE      "on" (default): every LM streams through one lm.engine.Engine (continuous batching, sized
                     by SEQLAB_ENGINE_SLOTS / _WAITING / _STEPS); "off": each request decodes alone at batch 1
(or the --lm-models / --bert-models / --classifier / --translators / --encoders flags of app.py, which win over the
environment).
A model that cannot be loaded (Hub unreachable, missing folder, a folder of another kind) is logged, noted in the
About tab, and the bundled models of its kind are loaded in its place, so the app always starts when the bundled
models are there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import lm  # noqa: E402  (lm and translate import nothing heavy: their models load on first use)
import translate  # noqa: E402
from core import model as folders  # noqa: E402
from space import defaults  # noqa: E402

log = logging.getLogger("seqlab.space")

# Load order = the API's default BERT first: the best on held-out modern text, read from its record (space.defaults)
BUNDLED_BERTS = tuple(defaults.bert_order("fill_mask", ("bert-modern", "bert", "bert-imdb")))


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
    _turn: threading.Condition = dataclasses.field(default_factory=threading.Condition)  # warm-up or requests
    _warming: bool = False  # a warm-up runs now (under _turn)
    _requests: int = 0  # requests in or waiting for `compiling` (under _turn): the next warm-up waits for them

    def streamer(self, m):
        """What streams from LM `m`: its engine when the app batches (and it is built), else the model itself
        (batch 1). Both have the same `stream(prompt, max_new_tokens, temperature, top_k, top_p, seed, stop)`."""
        return next((e for e in list(self.engines.values()) if e.model is m), m)

    def start_background(self, config=None, background: bool = True) -> None:
        """Build one lm.engine.Engine per LM (each compiles its widths: seconds), then run the warm-ups
        `load(defer_warm=True)` put off (the LMs' longer prompt buckets, the translators' decoding loops, the BERTs
        after the default one), in a background thread by default so the app is up meanwhile. The engines come
        first: chat is the first tab, and its streams batch from then on; until then they decode alone. Each
        engine build and each warm-up is one turn: a request that may compile waits for the one running then
        (`compiling`). `config`: an lm.engine.EngineConfig (default: the one `load` noted); no engines without
        one. Once per registry.

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

    def warm_first(self, name: str, warm: Callable[[], None]) -> None:
        """Run `warm` first of the deferred warm-ups (app.py: the Contexts view's own paths, which a request can
        then use while the translators still compile). Before start_background only."""
        if self._builder is not None:
            raise RuntimeError("warm_first must come before start_background")
        self.later.insert(0, (name, warm))

    @contextlib.contextmanager
    def compiling(self):
        """Hold off the warm-up thread while a request runs a path it may compile: the request waits for the
        warm-up running now (not for all of them), and the next warm-up waits for the requests. A warm-up never
        traces beside a request (see start_background); streams from the LMs, warmed before start-up, never wait
        (a prompt longer than the warmed buckets compiles its prefill there: XLA only, nothing is traced).
        Nothing to wait for once they are done."""
        if self._builder is None or self._settled.is_set():
            yield
            return
        with self._turn:
            self._requests += 1
            self._turn.wait_for(lambda: not self._warming)
        try:
            yield
        finally:
            with self._turn:
                self._requests -= 1
                self._turn.notify_all()

    def _warm_one(self, warm) -> None:
        """Run one deferred warm-up once no request is in `compiling` (they go first)."""
        with self._turn:
            self._turn.wait_for(lambda: self._requests == 0)
            self._warming = True
        try:
            warm()
        finally:
            with self._turn:
                self._warming = False
                self._turn.notify_all()

    def _background(self) -> None:
        try:
            if self.engine_config is not None:
                self._build_engines()
            if self.later:
                start = time.perf_counter()
                names = []
                for name, warm in self.later:
                    try:
                        self._warm_one(warm)
                        names.append(name)
                    except Exception as e:  # its first request will compile the path itself; say so
                        message = f"{name} could not be warmed after start-up: {type(e).__name__}: {e}"
                        log.warning(message)
                        self.notices.append(message)
                log.info("warmed after start-up: %s in %.1f s", ", ".join(names), time.perf_counter() - start)
        finally:
            self._settled.set()  # nothing is left to compile: requests stop waiting for turns

    def _build_engines(self) -> None:
        """One engine per LM, each build one turn (it traces code no request has traced); one that cannot be
        built leaves its LM's streams decoding alone, and says so."""
        from lm.engine import Engine

        def build(name, m):
            self.engines[name] = Engine(m, self.engine_config)

        start = time.perf_counter()
        for name, m in list(self.lms.items()):
            try:
                self._warm_one(functools.partial(build, name, m))
            except Exception as e:
                message = f"the LM engine of {name} could not be built: {type(e).__name__}: {e}; it streams alone"
                log.warning(message)
                self.notices.append(message)
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
        return next((n for n, m in self.lms.items() if m.config.arch == arch), None)

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


def _warm_lm(m) -> None:
    """Run every code path a request uses (prefill, step, sampling settings, top-k candidates) once, the prefill
    for the two shortest prompt buckets (a chat's prompt; after two it is traced for any length)."""
    m.warm_up(m.buckets[:2])
    for _piece in m.stream("a", max_new_tokens=4, temperature=0.8, top_k=5, top_p=0.9, seed=0, stop=["\n\n"]):
        pass
    m.next_tokens("a", k=10)


def _warm_bert(b) -> None:
    """Both tasks once, then one input per padded length bucket the model compiles separately, so a long text is
    no slower on its first request than later."""
    b.fill_mask("a [MASK] b", top_k=5)
    b.next_sentence("a b", "c d")
    for length in b.buckets[1:]:
        words = max(1, length // 2 - 3)
        try:
            b.next_sentence(" ".join(["the"] * words), " ".join(["the"] * words))
        except ValueError:  # longer than the model takes: the app never sends it (text limit)
            break


def _warm_lm_prompts(m) -> None:
    """The longer prompt buckets' prefill: XLA compiles only, seconds each for the bundled LMs, so they wait for
    after start-up (a long prompt that comes first compiles its own)."""
    m.warm_up(m.buckets[2:])


def _warm_translator(t) -> None:
    t.warm_up()  # greedy and beam 4: the compiled decoding loops a request uses


def _warm_elmo(e) -> None:
    e.embed("the bank of the river")


@dataclasses.dataclass(frozen=True)
class Served:
    """One kind of model the app serves: what names it, where it goes in the Registry, how it is warmed."""

    kind: str  # its core.model.KINDS key
    field: str  # the Registry attribute it fills: a dict by name, or "classifier" (one model)
    what: str  # what the log and the notices call one
    env: tuple[str, ...]  # environment variables that name the models, the first one set wins
    default: tuple[str, ...]  # the bundled ones served when none is named (those present); the first is the default
    bundled: str  # the notice's name for the bundled ones when they fill in
    none: str | None  # the notice when none is loaded; None: the app cannot start without one
    warm: Callable | None = None  # once on each model, so that its first request compiles nothing
    warm_first: int | None = None  # with defer_warm, how many are warmed before start-up (None: all of them)
    warm_later: Callable | None = None  # the rest of each model's warm-up: with defer_warm, after start-up


# In load order (weights load by name, so any order works; this one puts the LMs, which the first tab needs, first).
# The classifier warms itself (one prediction: every request has the same shape).
SERVED = (
    Served(
        "lm",
        "lms",
        "Language model",
        ("SEQLAB_LM_MODELS",),
        lm.BUNDLED,
        "language models",
        None,
        _warm_lm,
        warm_later=_warm_lm_prompts,
    ),
    Served(
        "bert",
        "berts",
        "BERT model",
        ("SEQLAB_BERT_MODELS",),
        BUNDLED_BERTS,
        "BERT models",
        "No BERT model is loaded: Fill-mask and Sentence pair answer with an error.",
        _warm_bert,
        warm_first=1,  # the tabs' default
    ),
    Served(
        "classifier",
        "classifier",
        "Classifier",
        ("SEQLAB_CLASSIFIER",),
        ("sentiment",),
        "classifier",
        "No classifier is loaded: Classify answers with an error.",
    ),
    Served(
        "translator",
        "translators",
        "Translator",
        ("SEQLAB_TRANSLATORS",),
        translate.BUNDLED,
        "translators",
        "No translator is loaded: Translate answers with an error.",
        _warm_translator,
        warm_first=0,  # they compile for seconds each
    ),
    Served(
        "bilm",
        "encoders",
        "ELMo model",
        ("SEQLAB_ENCODERS",),
        lm.ENCODERS,
        "ELMo",
        "No ELMo is loaded: Inside → Contexts compares BERT's layers only, and /embed takes a BERT.",
        _warm_elmo,
    ),
)


def _loaded(served: Served, registry: Registry) -> list[str]:
    if served.field == "classifier":
        return [] if registry.classifier is None else [registry.classifier.name]
    return list(getattr(registry, served.field))


def _load_one(served: Served, spec: str, registry: Registry, warm: bool, defer: bool) -> bool:
    """Load (and warm) one model into the registry, timed; False after logging and noting why it could not be."""
    later = warm and defer and served.warm_first is not None and len(_loaded(served, registry)) >= served.warm_first
    start = time.perf_counter()
    try:
        m = folders.load(spec, served.kind)
        if warm and served.warm and not later:
            served.warm(m)
        if warm and served.warm_later and not defer:
            served.warm_later(m)
    except Exception as e:  # OSError (missing, Hub unreachable), ValueError (bad folder), anything from loading
        message = f"{served.what} {spec!r} could not be loaded: {e}"
        log.warning(message)
        registry.notices.append(message)
        return False
    registry.seconds[m.name] = seconds = time.perf_counter() - start
    log.info("loaded %s %s in %.1f s", served.what.lower(), spec, seconds)
    if served.field == "classifier":
        registry.classifier, name = m, m.name
    else:
        models = getattr(registry, served.field)
        name = spec if m.name in models else m.name  # two folders with the same last part: keep both
        models[name] = m
    if served.field == "lms":  # a client may name an LM by what it was loaded from
        for alias in (spec, os.path.normpath(spec)):
            if alias != name:
                registry.aliases.setdefault(alias, name)
    if later:
        registry.later.append((name, functools.partial(served.warm, m)))
    if warm and served.warm_later and defer:
        registry.later.append((f"{name} (long prompts)", functools.partial(served.warm_later, m)))
    return True


def _serve(served: Served, asked, registry: Registry, warm: bool, defer: bool) -> None:
    """Load the models of one kind that `asked` names, else the environment, else the bundled ones present. When
    one that was named cannot be loaded, the bundled ones fill in (noted)."""
    specs = _split(asked) or next((s for s in (_split(os.environ.get(v)) for v in served.env) if s), [])
    bundled = [n for n in served.default if folders.present(n, served.kind)]
    one = served.field == "classifier"
    failed = [
        spec for spec in (specs or bundled)[: 1 if one else None] if not _load_one(served, spec, registry, warm, defer)
    ]
    if specs and failed:
        fallback = [n for n in bundled if n not in _loaded(served, registry)][: 1 if one else None]
        if fallback:
            registry.notices.append(f"Using the bundled {served.bundled} instead: {', '.join(fallback)}.")
        for spec in fallback:
            _load_one(served, spec, registry, warm, defer)
    if _loaded(served, registry):
        return
    if served.none is None:
        raise RuntimeError(
            f"no {served.what.lower()} could be loaded: "
            + " ".join(registry.notices)
            + f" (bundled models live in {folders.KINDS[served.kind].models}/; set {served.env[0]} to a model folder)"
        )
    registry.notices.append(served.none)


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
    """Load (and warm) the models named by the arguments, else by the environment, else the bundled ones (SERVED).
    `engine`: an lm.engine.EngineConfig, False for none (batch 1), None for what the environment says;
    `start_engines=False` notes it in `registry.engine_config` for the caller to `registry.start_background()`
    later (app.py: once the page is built). `defer_warm`: the LMs' longer prompt buckets, the translators and the
    BERTs after the default one are warmed there too, after start-up and the engines."""
    config = engine_config() if engine is None else (engine or None)
    registry = Registry()
    asked = {
        "lms": lm_models,
        "berts": bert_models,
        "classifier": classifier,
        "translators": translators,
        "encoders": encoders,
    }
    for served in SERVED:
        _serve(served, asked[served.field], registry, warm, defer_warm)
    registry.engine_config = config
    if start_engines:
        registry.start_background()
    return registry
