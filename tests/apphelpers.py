"""Shared by the app tests: tiny models trained once, and `python app.py` started as a real server.

`shared_server()` starts one server per test process (module cache + atexit: one per pytest-xdist worker
that runs an app test file), so test_app.py, test_browser.py and the others share it without a conftest. Models:
  - default: tiny models trained here by the CLIs (`lm.train`, `pretrain.train`, `translate.train`: a few
    seconds of training each, one process for all of them), cached under ~/.cache/seqlab/test-app-models/<hash
    of the core/, lm/, pretrain/, corpus/ and translate/ sources> so a rerun reuses them; SEQLAB_TEST_FRESH=1
    retrains. A tiny CNN classifier (`python -m classify train`, on the tiny BERT's vocabulary) is cached
    apart, under ~/.cache/seqlab/test-app-classifier/.
    The tiny ELMo (`--arch bilm`, word level) reads a text of its own (`_write_elmo_text`): sentences with
    ambiguous words such as "light" and "bank", for the Inside tab's /embed endpoint.
  - SEQLAB_TEST_MODELS=bundled: the bundled models (lm/models, pretrain/models), as `python app.py` uses them.
`bundled_server()` is a second one per test process, on the bundled models (test_browser.py, and test_app.py's
test of models that cannot load).
"""

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = sys.executable
sys.path.insert(0, ROOT)
from bench.common import rss_mb, wait_until_ready  # noqa: E402  (shared with bench/serve.py)

CACHE = os.path.join(os.environ.get("SEQLAB_CACHE", os.path.expanduser("~/.cache/seqlab")), "test-app-models")
QUIET = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "PYTHONUNBUFFERED": "1",
}

SPEAKERS = ["ROMEO", "JULIET", "NURSE", "MERCUTIO", "FRIAR LAURENCE", "TYBALT"]
PLAY_WORDS = (
    "love night light fair sweet death sword moon thou art my heart dear good lord what say you "
    "speak soft the of and to a is in that me"
).split()
BIBLE_WORDS = (
    "and the lord said unto them god earth heaven light darkness day night was good made created in "
    "beginning of waters he his it shall be upon face deep spirit moved"
).split()


def _env(**extra) -> dict:
    env = {**os.environ, **QUIET, **extra}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _write_corpora(folder: str) -> tuple[str, str]:
    """A small play (speech layout, groups by file) and a small scripture-like text, in plain text folders."""
    rng = random.Random(0)
    play, bible = os.path.join(folder, "play"), os.path.join(folder, "bible")
    os.makedirs(play, exist_ok=True)
    os.makedirs(bible, exist_ok=True)

    def line(words):
        return " ".join(rng.choice(words) for _ in range(rng.randint(4, 10))).capitalize() + "."

    for scene in range(6):
        speeches = [
            f"{SPEAKERS[i % len(SPEAKERS)]}:\n" + "\n".join(line(PLAY_WORDS) for _ in range(rng.randint(1, 3))) + "\n"
            for i in range(30)
        ]
        with open(os.path.join(play, f"scene{scene}.txt"), "w") as f:
            f.write("\n".join(speeches))
    for chapter in range(12):
        with open(os.path.join(bible, f"chapter{chapter}.txt"), "w") as f:
            f.write("\n".join(line(BIBLE_WORDS) for _ in range(60)) + "\n")
    return play, bible


ELMO_SENTENCES = (
    "the light of the day was good",
    "god made the light and the darkness",
    "the bag was light and easy to carry",
    "she put her money in the bank",
    "they sat on the bank of the river",
    "the river ran past the bank and the trees",
    "my heart is light tonight",
    "the lord said unto them speak soft",
)


def _write_elmo_text(folder: str) -> str:
    """A plain text for the tiny ELMo: 150 paragraphs of three sentences (a plain file's groups are 50
    paragraphs, and training holds one group out, so it needs two or more)."""
    rng = random.Random(2)
    path = os.path.join(folder, "elmo.txt")
    paragraphs = ["\n".join(f"{rng.choice(ELMO_SENTENCES)} ." for _ in range(3)) for _ in range(150)]
    with open(path, "w") as f:
        f.write("\n\n".join(paragraphs) + "\n")
    return path


LM_ARGS = [
    "--level",
    "char",
    "--steps",
    "30",
    "--layers",
    "1",
    "--dim",
    "32",
    "--seq-len",
    "128",
    "--batch-size",
    "16",
    "--eval-every",
    "30",
    "--checkpoint-every",
    "30",
]
ELMO_ARGS = [
    "--arch",
    "bilm",
    "--level",
    "word",
    "--layers",
    "2",
    "--dim",
    "24",
    "--proj",
    "16",
    "--seq-len",
    "16",
    "--batch-size",
    "8",
    "--steps",
    "20",
    "--lr",
    "1e-2",
    "--warmup",
    "5",
    "--eval-every",
    "20",
    "--checkpoint-every",
    "20",
    "--no-jit",
]
BERT_ARGS = ["--layers", "1", "--dim", "32", "--heads", "2", "--seq-len", "64", "--steps", "10", "--batch-size", "8"]
TRANSLATE_ARGS = [
    "--steps",
    "20",
    "--layers",
    "1",
    "--dim",
    "32",
    "--heads",
    "2",
    "--ffn-dim",
    "64",
    "--vocab-size",
    "300",
    "--max-len",
    "24",
    "--batch-size",
    "16",
    "--eval-every",
    "20",
    "--checkpoint-every",
    "20",
]
EN_ES = dict(
    zip(
        "the light night good lord earth heaven day water god said made love sweet".split(),
        "la luz noche bueno señor tierra cielo día agua dios dijo hizo amor dulce".split(),
    )
)


def _write_pairs(folder: str) -> str:
    """Word-by-word English -> Spanish pairs: a TSV a tiny translator learns a little from in 20 steps."""
    rng = random.Random(1)
    path = os.path.join(folder, "pairs.tsv")
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(600):
            words = [rng.choice(list(EN_ES)) for _ in range(rng.randint(2, 8))]
            f.write(" ".join(words) + "\t" + " ".join(EN_ES[w] for w in words) + "\n")
    return path


def _hash_sources(h, packages) -> str:
    """`h` updated with every .py file of the packages: cached test models are rebuilt when the code changes."""
    for package in packages:
        for folder, dirs, files in sorted(os.walk(os.path.join(ROOT, package))):
            dirs[:] = sorted(d for d in dirs if d not in ("models", "__pycache__"))
            for name in sorted(files):
                if name.endswith(".py"):
                    h.update(name.encode())
                    h.update(open(os.path.join(folder, name), "rb").read())
    return h.hexdigest()[:16]


def _source_hash() -> str:
    return _hash_sources(
        hashlib.sha256(repr((LM_ARGS, BERT_ARGS, TRANSLATE_ARGS, ELMO_ARGS, ELMO_SENTENCES)).encode()),
        ("core", "lm", "pretrain", "corpus", "translate"),
    )


# The CLIs one after another in one interpreter (tests.helpers.run_here: each `main(argv)` as `python -m` calls
# it), apart from the test process: each process of its own spent seconds of CPU importing TensorFlow, more than
# a tiny model's training.
_IN_ONE_PROCESS = """import json, sys
from tests.helpers import run_here
for args in json.loads(sys.argv[1]):
    done = run_here("-m", *args)
    if done.returncode != 0:
        sys.exit(f"python -m {' '.join(args)} failed ({done.returncode}):\\n{(done.stdout + done.stderr)[-3000:]}")
"""


def _run_in_one_process(commands: list[list[str]], timeout: float = 900) -> None:
    """Run `python -m` commands (each a module and its arguments) in one process, in order; fail with the
    output's tail if one fails."""
    done = subprocess.run(
        [PYTHON, "-c", _IN_ONE_PROCESS, json.dumps(commands)],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"building a tiny test model failed: {(done.stdout + done.stderr)[-3000:]}")


@contextlib.contextmanager
def _locked(cache: str):
    """One builder at a time across processes (pytest-xdist workers): the others wait, then find it built."""
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, ".lock"), "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _built(done: str) -> bool:
    """The cached build is there (its `done` file); with SEQLAB_TEST_FRESH=1 only one made in this test run
    (pytest-xdist gives its workers one PYTEST_XDIST_TESTRUNUID), so two workers never rebuild it twice."""
    if not os.path.exists(done):
        return False
    return os.environ.get("SEQLAB_TEST_FRESH") != "1" or open(done).read() == _run_id()


def _run_id() -> str:
    return os.environ.get("PYTEST_XDIST_TESTRUNUID", f"pid-{os.getpid()}")


def tiny_models() -> dict[str, str]:
    """Folders of a tiny char transformer, char LSTM, BERT, ELMo and two translators: {"transformer", "lstm",
    "bert", "elmo", "translate-rnn", "translate-transformer"}."""
    folder = os.path.join(CACHE, _source_hash())
    models = {
        "transformer": os.path.join(folder, "tiny-transformer"),
        "lstm": os.path.join(folder, "tiny-lstm"),
        "bert": os.path.join(folder, "tiny-bert"),
        "elmo": os.path.join(folder, "tiny-elmo"),
        "translate-rnn": os.path.join(folder, "tiny-translate-rnn"),
        "translate-transformer": os.path.join(folder, "tiny-translate-transformer"),
    }
    done = os.path.join(folder, "done")
    if _built(done):
        return models
    with _locked(CACHE):
        if not _built(done):  # another process may have built it while this one waited
            shutil.rmtree(folder, ignore_errors=True)  # SEQLAB_TEST_FRESH=1: an older build goes
            _build_tiny_models(folder, models, done)
    return models


def _build_tiny_models(folder: str, models: dict[str, str], done: str) -> None:
    work = tempfile.mkdtemp(dir=CACHE)
    try:
        play, bible = _write_corpora(work)
        pairs = _write_pairs(work)
        elmo_text = _write_elmo_text(work)
        out = {k: os.path.join(work, os.path.basename(v)) for k, v in models.items()}
        common = [*LM_ARGS, "--corpus", play]
        vocab = os.path.join(work, "bert-vocab")
        _run_in_one_process(
            [
                ["pretrain.vocab", "--corpus", bible, "--size", "200", "--out", vocab],
                ["lm.train", "--arch", "transformer", "--heads", "2", *common, "--out", out["transformer"]],
                ["lm.train", "--arch", "lstm", *common, "--out", out["lstm"]],
                ["pretrain.train", "--corpus", bible, "--vocab", vocab, "--out", out["bert"], *BERT_ARGS],
                ["lm.train", "--corpus", elmo_text, *ELMO_ARGS, "--out", out["elmo"]],
                *(
                    [
                        "translate.train",
                        "--pair",
                        pairs,
                        "--arch",
                        arch,
                        *TRANSLATE_ARGS,
                        "--out",
                        out[f"translate-{arch}"],
                    ]
                    for arch in ("rnn", "transformer")
                ),
            ]
        )
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(work, folder)
        with open(done, "w") as f:
            f.write(_run_id())
        for old in os.listdir(CACHE):  # models of older sources are never used again
            if old != os.path.basename(folder) and len(old) == 16 and all(c in "0123456789abcdef" for c in old):
                shutil.rmtree(os.path.join(CACHE, old), ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


POSITIVE_WORDS = "gorgeous moving wonderful brilliant funny warm wise best superb delightful great loved".split()
NEGATIVE_WORDS = "tedious boring dull awful wooden thin mess worst bad bored overlong clumsy".split()
NEUTRAL_WORDS = "the film movie a an and it was is of plot acting story this".split()
CLASSIFIER_ARGS = ["--arch", "cnn", "--epochs", "2", "--seq-len", "16", "--dim", "16"]


def _classifier_hash(vocab_folder: str) -> str:
    h = hashlib.sha256(repr(CLASSIFIER_ARGS).encode())
    h.update(open(os.path.join(vocab_folder, "vocab.txt"), "rb").read())
    return _hash_sources(h, ("core", "classify", "pretrain", "lm"))


def tiny_classifier() -> str:
    """Folder of a tiny CNN sentiment classifier (labels positive/negative) on the tiny BERT's vocabulary,
    cached under ~/.cache/seqlab/test-app-classifier/<hash of its sources>."""
    vocab = tiny_models()["bert"]
    cache = os.path.join(os.path.dirname(CACHE), "test-app-classifier")
    folder = os.path.join(cache, _classifier_hash(vocab))
    model = os.path.join(folder, "tiny-classifier")
    done = os.path.join(folder, "done")
    if _built(done):
        return model
    with _locked(cache):
        if not _built(done):
            shutil.rmtree(folder, ignore_errors=True)
            _build_tiny_classifier(cache, folder, vocab)
    return model


def _build_tiny_classifier(cache: str, folder: str, vocab: str) -> None:
    work = tempfile.mkdtemp(dir=cache)
    try:
        rng = random.Random(1)
        rows = ["text\tlabel"]
        for i in range(240):
            label = "positive" if i % 2 else "negative"
            words = POSITIVE_WORDS if i % 2 else NEGATIVE_WORDS
            sentence = [rng.choice(NEUTRAL_WORDS) for _ in range(rng.randint(2, 5))] + [
                rng.choice(words) for _ in range(rng.randint(1, 3))
            ]
            rng.shuffle(sentence)
            rows.append(" ".join(sentence) + "\t" + label)
        data = os.path.join(work, "reviews.tsv")
        with open(data, "w") as f:
            f.write("\n".join(rows) + "\n")
        out = os.path.join(work, "tiny-classifier")
        _run_in_one_process([["classify", "train", *CLASSIFIER_ARGS, "--data", data, "--vocab", vocab, "--out", out]])
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(work, folder)
        with open(os.path.join(folder, "done"), "w") as f:
            f.write(_run_id())
        for old in os.listdir(cache):
            if old != os.path.basename(folder) and len(old) == 16:
                shutil.rmtree(os.path.join(cache, old), ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bundled_present() -> bool:
    lm_ok = all(
        os.path.exists(os.path.join(ROOT, "lm", "models", n, "model.weights.h5"))
        for n in ("char-transformer", "char-lstm")
    )
    return lm_ok and os.path.exists(os.path.join(ROOT, "pretrain", "models", "bert", "model.weights.h5"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """`python app.py` in a subprocess on a free port; `url`, `log_text()`, `stop()`."""

    def __init__(self, env: dict | None = None, timeout: float = 240):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = tempfile.mktemp(prefix="seqlab-app-", suffix=".log")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [PYTHON, "app.py"],
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=_env(GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(self.port), **(env or {})),
        )
        self.startup_seconds = wait_until_ready(self.proc, self.url, self.log_text, timeout)
        self.pid = self.proc.pid

    def rss_mb(self) -> float:
        """Resident memory of the app process (VmRSS from /proc), in MB."""
        return rss_mb(self.pid)

    def log_text(self) -> str:
        self._log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)  # inside pytest-xdist's 10 s for a worker to exit
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


_shared: dict = {}


def model_env() -> dict:
    if os.environ.get("SEQLAB_TEST_MODELS") == "bundled":
        return {
            "SEQLAB_LM_MODELS": "",
            "SEQLAB_BERT_MODELS": "",
            "SEQLAB_CLASSIFIER": "",
            "SEQLAB_TRANSLATORS": "",
            "SEQLAB_ENCODERS": "",
        }
    models = tiny_models()
    return {
        "SEQLAB_LM_MODELS": f"{models['transformer']},{models['lstm']}",
        "SEQLAB_BERT_MODELS": f"{models['bert']},bert",  # two BERTs: the model choice is tested
        "SEQLAB_CLASSIFIER": tiny_classifier(),
        "SEQLAB_TRANSLATORS": f"{models['translate-rnn']},{models['translate-transformer']}",
        "SEQLAB_ENCODERS": models["elmo"],
    }


class ExternalServer:
    """An app already running at SEQLAB_TEST_URL (for quick iterations on the browser tests)."""

    def __init__(self, url: str):
        self.url = url.rstrip("/") + "/"

    def log_text(self) -> str:
        return ""

    def stop(self) -> None:
        pass


def shared_server() -> AppServer:
    """One app server per test process (stopped at exit): the session's, or each pytest-xdist worker's."""
    if "server" not in _shared and os.environ.get("SEQLAB_TEST_URL"):
        _shared["server"] = ExternalServer(os.environ["SEQLAB_TEST_URL"])
    if "server" not in _shared:
        _shared["server"] = AppServer(model_env())
        atexit.register(_shared["server"].stop)
    return _shared["server"]


# An LM that cannot be loaded (a Hub repo id: offline here) named before a bundled one, and a classifier that is not
# there: the bundled ones fill in, so the server serves what a plain `python app.py` does (char-transformer first,
# then char-lstm; the bundled classifier), with a notice for each failure. One server for the browser tests and for
# the test of those notices: each start of the bundled app costs ~30 s of CPU.
BUNDLED_WITH_FAILURES = {
    "SEQLAB_LM_MODELS": "nobody/not-a-real-seqlab-model,char-transformer",
    "SEQLAB_BERT_MODELS": "",
    "SEQLAB_CLASSIFIER": "/no/such/classifier",
    "SEQLAB_TRANSLATORS": "",
    "SEQLAB_ENCODERS": "",
}


def bundled_server() -> AppServer:
    """One `python app.py` on the bundled models per test process (stopped at exit), named with
    BUNDLED_WITH_FAILURES."""
    if "bundled" not in _shared:
        _shared["bundled"] = AppServer(BUNDLED_WITH_FAILURES)
        atexit.register(_shared["bundled"].stop)
    return _shared["bundled"]
