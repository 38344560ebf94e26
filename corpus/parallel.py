"""Parallel corpora for translation: verse-aligned public-domain Bibles, a local TSV, or `hf:` data sets.

    from corpus import parallel
    pairs = parallel.load_pairs("web-es")        # 30,465 (English, Spanish) verse pairs, cached after the first run
    pairs[0]        # Pair(source='In the beginning, God created the heavens and the earth.',
                    #      target='En el principio crió Dios los cielos y la tierra.', group='Gen', key='Gen.1.1')
    splits = parallel.split_pairs(pairs)         # {"train": [...], "validation": [...], "test": [...]}
    parallel.load_pairs("my_pairs.tsv")          # source<TAB>target, one pair a line
    parallel.load_pairs("hf:opus_books:en-es")   # a `translation` column; languages from the config or `languages=`
    parallel.load_pairs("hf:json:pairs.jsonl", languages=("en", "es"))   # a local file through a datasets builder

Specs:
- `web-es`: World English Bible (engWEB2015eb) -> Reina-Valera 1909 (spaRV1909eb); `kjv-web`: King James
  (engKJV2006eb) -> World English Bible. Read from Debian's SWORD packages (pinned in `DEBS`, SHA-256 checked),
  fetched with `apt-get download` (never installed) and read with PyPI pysword (see `_pysword`).
- `path.tsv`: UTF-8, `source<TAB>target` a line; blank lines are skipped.
- `hf:NAME[:CONFIG]`, `hf:json:FILE`, `hf:FOLDER` (read by corpus.hub, its train split): a `translation` column
  of {lang: text} dicts (opus_books, WMT) or two named columns; rows with an empty side are skipped.

Cleaning of the Bibles (verse by verse from the OSIS markup, never pysword's clean=True, which deletes a footnote
without a space and prints "Godcreated"): footnotes, Song of Songs speaker labels, KJV colophons and the Psalm 119
Hebrew-letter headings are dropped without gluing words; tags and the KJV's paragraph mark are stripped.
- Reina-Valera 1909 written in today's spelling: the accented one-letter words of the old orthography (á, é, ó, ú
  as whole words) become a, e, o, u, and fué, fuí, dió, vió become fue, fui, dio, vio (the accents the 1952 rules
  dropped). Words are otherwise left as printed ("crió" stays). Each chapter's first word (printed in capitals,
  "EN el principio") takes the case the word has elsewhere. Its colophons ("Fué escrita de Corinto...") go.
- World English Bible quotes: a speech opens in one verse and closes verses later, so a verse keeps only the
  double and single quote marks it opens and closes itself; curly quotes and apostrophes become straight (" ').
- A chapter where one version has an empty verse the other has (its text numbered differently there), and the
  verses `MISNUMBERED` lists (RV1909 numbering a run of verses as the Hebrew Bible does), are left out, so the
  pairs align; a few verses still differ by a clause at a verse boundary.

Splits: the Bibles by whole books, fixed (`VALIDATION_BOOKS`, `TEST_BOOKS`; about 5% each, never trained on);
other sets by a hash of the source text, so a repeated source line always falls in the same split.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

from core import files
from corpus import CorpusError, hub, named, read_text

PAIRS = ("web-es", "kjv-web")
MODULES = {"web-es": ("engWEB2015eb", "spaRV1909eb"), "kjv-web": ("engKJV2006eb", "engWEB2015eb")}
# module -> (Debian package, version, sha256 of the .deb), as `apt-cache policy` showed them on Debian 12
DEBS = {
    "engWEB2015eb": ("sword-text-web", "426.0-1", "930b23670b352f0829a306501de4bebb5e654a2df02cde2cbe86b802177868e1"),
    "spaRV1909eb": ("sword-text-sparv", "2.60-1", "5c87f9b2bc97457e8a872f5bae7ea7ce59cb3de1dcee73e4d4740451863694cf"),
    "engKJV2006eb": ("sword-text-kjv", "14.3-1", "9f463f28ce665f6f528fc723179722bced880a4c5485f7a41bf742838315de57"),
}
PYSWORD = ("pysword==0.2.8", "pysword-0.2.8.tar.gz", "6302f350c22f39090e2556729551fac57a4c25ceb268f90cd7fd0584b9cca4f0")

# A gospel, an epistle, an Old Testament narrative and a prophet each (OSIS names); ~4.6% and ~5.3% of the pairs.
VALIDATION_BOOKS = ("Mark", "Heb", "Ruth", "Dan")
TEST_BOOKS = ("John", "1Cor", "Esth", "Amos")
BOOK_NAMES = {
    "Mark": "Mark",
    "Heb": "Hebrews",
    "Ruth": "Ruth",
    "Dan": "Daniel",
    "John": "John",
    "1Cor": "1 Corinthians",
    "Esth": "Esther",
    "Amos": "Amos",
}
VALIDATION_FRACTION = TEST_FRACTION = 0.05  # of a TSV or hf: set, by hash

# Where a module numbers verses unlike the KJV versification its SWORD module is stored in ("Book.C" a chapter,
# "Book.C.V[-W]" verses), found by comparing verse lengths and names with the neighbours': RV1909 follows the
# Hebrew numbering in places (Jonah 1:17 is its 2:1, so all of Jonah 2 is one verse off) and splits a few runs of
# verses elsewhere; the WEB prints Romans 16:25-27 at the end of 14:23. Chapters with an empty slot on one side are
# found by `_align` itself; these are the ones it cannot see.
MISNUMBERED = {
    "spaRV1909eb": (
        "Num.13",
        "Num.30",
        "1Sam.24",
        "Job.39",
        "Hos.12",
        "Jonah.2",
        "Judg.14.19-20",
        "2Sam.2.32",
        "1Kgs.16.29-30",
        "1Kgs.18.33-34",
        "1Kgs.22.43-53",
        "1Chr.1.30-32",
        "1Chr.2.34-35",
        "1Chr.21.16-30",
    ),
    "engWEB2015eb": ("Rom.14.23",),
}
CACHE = os.path.join(named.CACHE, "parallel")
_VERSION = 1  # bump when the cleaning changes: cached pairs are rebuilt


@dataclasses.dataclass(frozen=True)
class Pair:
    source: str
    target: str
    group: str  # the book (OSIS name) of a Bible pair; "" for TSV and hf: pairs, which split by hash
    key: str  # "Gen.1.1", "pairs.tsv:12", "hf:NAME#12"


def load_pairs(spec: str, languages: tuple[str, str] | None = None) -> list[Pair]:
    """Pairs of a named corpus (`PAIRS`), a TSV file or hf:NAME[:CONFIG]; `languages` = (source, target) names the
    translation keys or columns of an hf: set (the CLIs' --source-lang / --target-lang)."""
    spec = (spec or "").strip()
    if not spec:
        raise CorpusError("no parallel corpus given: pass a name (" + ", ".join(PAIRS) + "), a .tsv file or hf:DATASET")
    if languages is not None and not spec.startswith("hf:"):
        raise CorpusError(
            f"--source-lang / --target-lang (languages=) choose the keys or columns of an hf: data set; {spec!r} "
            "has one direction"
        )
    if spec in PAIRS:
        return _load_named(spec)
    if spec.startswith("hf:"):
        return _load_hf(spec, languages)
    if os.path.isfile(spec):
        return _load_tsv(spec)
    raise CorpusError(
        f"parallel corpus {spec!r} not found: not a named pair ({', '.join(PAIRS)}), "
        "an existing TSV file, or hf:DATASET"
    )


def split_of(pair: Pair) -> str:
    """ "train", "validation" or "test": a Bible pair by its book, any other by a hash of its source text."""
    if pair.group:
        return "validation" if pair.group in VALIDATION_BOOKS else "test" if pair.group in TEST_BOOKS else "train"
    h = int.from_bytes(hashlib.sha256(pair.source.encode("utf-8")).digest()[:8], "big") / 2**64
    return "validation" if h < VALIDATION_FRACTION else "test" if h < VALIDATION_FRACTION + TEST_FRACTION else "train"


def split_pairs(pairs: list[Pair]) -> dict[str, list[Pair]]:
    """{"train", "validation", "test"}: Bible pairs by book (never a book in two splits), others by source hash."""
    out = {"train": [], "validation": [], "test": []}
    for p in pairs:
        out[split_of(p)].append(p)
    if not all(out.values()):
        counts = ", ".join(f"{k} {len(v)}" for k, v in out.items())
        raise CorpusError(
            f"{len(pairs)} pairs are too few to split into train, validation and test ({counts}): "
            "give a few hundred at least"
        )
    return out


# A sentence ends at . ! or ? (and any closing quote or bracket) before a space and a capital, ¿ or ¡. Not
# corpus.named's English splitter: its guards (no split after a capital letter, "No", "Mr"...) would glue verses'
# "you and I. Let it be...", "YO SOY. Y dijo..." and "No! But the living one...", and it knows no ¿ ¡ or Á.
_SENTENCE_END = re.compile(r"""([.!?]["')\]]*)\s+(?=[¿¡"(\[]*[A-ZÁÉÍÓÚÑ])""")


def sentences(text: str) -> list[str]:
    """The sentences of a verse (see `_SENTENCE_END`); a part left with an odd number of double quotes (a speech
    cut at the split) loses them."""
    parts = [p.strip() for p in _SENTENCE_END.sub("\\1\n", text).split("\n") if p.strip()]
    return [" ".join(p.replace('"', " ").split()) if p.count('"') % 2 else p for p in parts]


def sentence_pairs(pairs: list[Pair], max_ratio: float = 1.6) -> list[Pair]:
    """Extra, shorter pairs cut from verses whose two sides have the same number (two or more) of sentences, each
    sentence paired with the one in the same place when their word counts (plus one) are within `max_ratio` of
    each other, else the verse gives none. Visitors type one short sentence where the Bible pairs whole verses
    (about 25 words): these teach short inputs and an [END] after one sentence. Keys get "#1", "#2", ... and keep
    the verse's book, so they stay in its split. On web-es's training books: 3,359 pairs from 27,413 verses."""
    out = []
    for p in pairs:
        src, tgt = sentences(p.source), sentences(p.target)
        if len(src) < 2 or len(src) != len(tgt):
            continue
        words = [(len(a.split()) + 1, len(b.split()) + 1) for a, b in zip(src, tgt)]
        if all(1 / max_ratio <= b / a <= max_ratio for a, b in words):
            out += [Pair(a, b, p.group, f"{p.key}#{i}") for i, (a, b) in enumerate(zip(src, tgt), 1)]
    return out


def cached_path(name: str) -> str:
    """Where the cleaned, aligned pairs of a named corpus are kept (what to carry to a machine without apt)."""
    return os.path.join(CACHE, f"{name}.v{_VERSION}.jsonl")


# ---------------------------------------------------------------------------------------------- named Bibles


def _load_named(name: str) -> list[Pair]:
    path = cached_path(name)
    if not os.path.exists(path):
        rows = _align(*(read_module(m) for m in MODULES[name]), *MODULES[name])
        os.makedirs(CACHE, exist_ok=True)
        files.write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    with open(path, encoding="utf-8") as f:
        return [
            Pair(r["source"], r["target"], r["book"], f"{r['book']}.{r['chapter']}.{r['verse']}")
            for r in map(json.loads, f)
        ]


def _align(src: dict, tgt: dict, src_module: str, tgt_module: str) -> list[dict]:
    """Rows for the keys both versions have text for, in the source's order. A chapter where one side has an empty
    verse the other has is left out whole (its text is numbered differently there), and so are `MISNUMBERED`."""
    both = [k for k in src if k in tgt]
    gaps = {k.rsplit(".", 1)[0] for k in both if bool(src[k]) != bool(tgt[k])}
    skip = MISNUMBERED.get(src_module, ()) + MISNUMBERED.get(tgt_module, ())
    rows = []
    for k in both:
        if src[k] and tgt[k] and k.rsplit(".", 1)[0] not in gaps and not _listed(k, skip):
            book, c, v = k.split(".")
            rows.append({"book": book, "chapter": int(c), "verse": int(v), "source": src[k], "target": tgt[k]})
    return rows


def _listed(key: str, entries) -> bool:
    book, c, v = key.split(".")
    for e in entries:
        parts = e.split(".")
        if parts[:2] == [book, c]:
            lo, _, hi = (parts[2] if len(parts) == 3 else "1-999").partition("-")
            if int(lo) <= int(v) <= int(hi or lo):
                return True
    return False


def read_module(module: str) -> dict[str, str]:
    """{"Gen.1.1": cleaned text or ""} of every verse slot of a SWORD module, in canonical order."""
    import functools

    deb = _fetch_deb(module)
    pysword = _pysword()
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(["dpkg", "-x", deb, tmp], capture_output=True, text=True)
        if done.returncode != 0:
            raise OSError(f"dpkg -x could not unpack {DEBS[module][0]}: {done.stderr.strip()[-300:]}")
        mods = pysword.modules.SwordModules(os.path.join(tmp, "usr", "share", "sword"))
        mods.parse_modules()
        bible = mods.get_bible_from_module(module)
        # pysword decompresses a whole block for every verse it reads; caching the last blocks makes reading a
        # Bible verse by verse take one second instead of a minute.
        bible._decompressed_text = functools.lru_cache(maxsize=8)(bible._decompressed_text)
        raw = {}
        for books in bible.get_structure().get_books().values():
            for book in books:
                for c, n in enumerate(book.chapter_lengths, 1):
                    for v in range(1, n + 1):
                        raw[f"{book.osis_name}.{c}.{v}"] = bible.get(
                            books=[book.name], chapters=[c], verses=[v], clean=False
                        )
    verses = {k: clean_verse(s, k) for k, s in raw.items()}
    if module == "spaRV1909eb":
        verses = _modern_spanish(verses)
    elif module.startswith("eng"):
        verses = {k: straight_quotes(balance_quotes(s)) for k, s in verses.items()}
    return verses


def _fetch_deb(module: str) -> str:
    """Path of the verified .deb, downloaded once with apt-get (no install), checked by named.fetch's sha256."""
    pkg, version, sha = DEBS[module]
    filename = f"{pkg}_{version}_all.deb"
    named.PACKAGES.setdefault(f"deb:{pkg}", (f"apt:{pkg}={version}", filename, sha))
    if not os.path.exists(os.path.join(named.CACHE, filename)):
        os.makedirs(named.CACHE, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=named.CACHE) as tmp:
            _apt_download(f"{pkg}={version}", tmp)
            named.place(os.path.join(tmp, filename), os.path.join(named.CACHE, filename))
    return named.fetch(f"deb:{pkg}")  # checks the sha256 (and removes a bad file)


def _apt_download(req: str, folder: str) -> None:
    def download():
        return subprocess.run(["apt-get", "download", req], cwd=folder, capture_output=True, text=True)

    if shutil.which("apt-get") is None:
        raise OSError(f"the Bible corpora need apt-get (Debian or Ubuntu) to download {req}")
    done = download()
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"] if shutil.which("sudo") else None
    if done.returncode != 0 and sudo is not None:  # package lists missing or stale: refresh them (root) and retry
        subprocess.run(sudo + ["apt-get", "update", "-qq"], capture_output=True, text=True)
        done = download()
    if done.returncode != 0:
        raise OSError(f"apt-get download {req} failed: {done.stderr.strip()[-500:]}")


def _pysword():
    """pysword, pure Python, imported from the pinned sdist unpacked into the cache, not installed: like the named
    corpora's packages it is only needed to build the cache once, so it stays out of requirements.txt."""
    named.PACKAGES.setdefault("pysword", PYSWORD)
    folder = os.path.join(named.CACHE, "pysword-0.2.8")
    if not os.path.isdir(os.path.join(folder, "pysword")):
        sdist = named.fetch("pysword")  # pip download --no-deps, sha256 checked; creates the cache folder too
        with tempfile.TemporaryDirectory(dir=named.CACHE) as tmp:
            with tarfile.open(sdist) as t:
                members = [m for m in t.getmembers() if m.name.startswith("pysword-0.2.8/pysword/")]
                t.extractall(tmp, members=members, filter="data")
            try:
                os.replace(os.path.join(tmp, "pysword-0.2.8"), folder)
            except OSError:  # another process unpacked it first
                if not os.path.isdir(os.path.join(folder, "pysword")):
                    raise
    if folder not in sys.path:
        sys.path.insert(0, folder)
    import pysword.modules

    return pysword


# ---------------------------------------------------------------------------------------------- cleaning

_STRUCTURAL = r"l|lg|lb|div|chapter|p|list|item|milestone|title"  # tags that sit between words: a space
_CLITICS = re.compile(r"(?:me|te|se|nos|os|le|les|la|las|lo|los)+")


def _added_words(m: re.Match) -> str:
    """RV1909 writes words the translators added (<transChange>) straight after the previous <w> element; most
    need a space ("no hablo"), an enclitic pronoun does not ("apretarle", "dadme")."""
    word, added, next_tag = m.group(1), m.group(2), m.group(3) or ""
    before_word = bool(next_tag)
    attach = _CLITICS.fullmatch(added) and not word[:1].isupper() and (not before_word or word.endswith(("r", "ndo")))
    return f"{word}{'' if attach else ' '}{added}{' ' if before_word else ''}{next_tag}"


def clean_verse(raw: str, key: str = "") -> str:
    """Plain text of one verse of OSIS markup: notes replaced by a word gap (no glued words), headings that are not
    the text dropped, tags and ¶ stripped, entities decoded, whitespace collapsed."""
    s = re.split(r'<div[^>]*type="glossary"', raw)[0]  # the WEB appends its glossary to Revelation 22:21
    s = re.sub(r"(\w+)</w><transChange[^>]*>([^<]*)</transChange>(<w\b)?", _added_words, s)
    s = re.sub(r"</transChange><w\b", "</transChange> <w", s)
    s = re.sub(r"</q>(?=<w\b)", "</q> ", s)  # the WEB closes a quotation against the next word
    s = re.sub(r"<note\b.*?</note>", "\x00", s, flags=re.S)
    # speaker labels (Song of Songs) and titles that are not canonical (KJV colophons, Psalm 119 letters)
    s = re.sub(r"<speaker\b.*?</speaker>|<title(?![^>]*canonical=\"true\")[^>]*>.*?</title>", " ", s, flags=re.S)
    s = re.sub(rf"</?(?:{_STRUCTURAL})\b[^>]*>", " ", s)
    s = html.unescape(re.sub(r"<[^>]*>", "", s).replace("¶", ""))
    # a removed note leaves a space only between two words: "God created", but "earth." and "God’s"
    s = re.sub(r"\x00+(?=[\s,.;:!?)\]’”—]|$)|(?<=[\s(\[“‘—])\x00+|^\x00+", "", s).replace("\x00", " ")
    s = re.sub(r"\s+(?=[,.;:!?])", "", " ".join(s.split()))  # "coins ?" in the WEB
    if key.startswith("Ps.119.") and int(key.rsplit(".", 1)[1]) % 8 == 1:
        s = re.sub(r"^[A-Z]{2,}(?:\s+[A-Z]{2,})*\.?\s+", "", s)  # a stanza's Hebrew letter: ALEPH, SIN AND SHIN
    return s


_OLD_SPELLING = {"á": "a", "é": "e", "ó": "o", "ú": "u", "fué": "fue", "fuí": "fui", "dió": "dio", "vió": "vio"}
_OLD_RE = re.compile(r"(?<!\w)(" + "|".join(_OLD_SPELLING) + r")(?!\w)", re.I)
# Epistle ends where RV1909 adds a colophon after the final Amén (the KJV's is a <title>, dropped above).
_COLOPHON_BOOKS = (
    "Rom",
    "1Cor",
    "2Cor",
    "Gal",
    "Eph",
    "Phil",
    "Col",
    "1Thess",
    "2Thess",
    "1Tim",
    "2Tim",
    "Titus",
    "Phlm",
    "Heb",
)


def modern_spelling(text: str) -> str:
    def repl(m):
        new = _OLD_SPELLING[m.group(1).lower()]
        return new.capitalize() if m.group(1)[0].isupper() else new

    return _OLD_RE.sub(repl, text)


def _modern_spanish(verses: dict[str, str]) -> dict[str, str]:
    last = {}
    for k in verses:
        if verses[k]:
            last[k.split(".")[0]] = k
    for book in set(_COLOPHON_BOOKS) & set(last):
        verses[last[book]] = re.sub(r"(Amén\.).*$", r"\1", verses[last[book]])
    # a chapter's first word is printed in capitals ("EN el principio", "Y MOISÉS dijo", "¡OH Jehová"): give it the
    # case the word has elsewhere, lower or capitalised, and a capital where a sentence starts
    seen = collections.Counter(w for k, s in verses.items() if not k.endswith(".1") for w in re.findall(r"\w+", s))

    def recase(s: str) -> str:
        words = [m for m in re.finditer(r"\w+", s)]
        first = next((i for i, m in enumerate(words) if len(m.group()) > 1 and m.group().isupper()), None)
        if first is None:
            return s
        last = first  # a run of capitals: "MI ALIENTO está"
        while (
            last + 1 < len(words)
            and len(words[last + 1].group()) > 1
            and words[last + 1].group().isupper()
            and not s[words[last].end() : words[last + 1].start()].strip()
        ):
            last += 1
        start, end = words[first].start(), words[last].end()
        text = " ".join(
            w.lower() if seen[w.lower()] >= seen[w.capitalize()] else w.capitalize() for w in s[start:end].split()
        )
        if not s[:start].strip(" ¡¿(") or re.search(r"[.!?:][¡¿\s]*$", s[:start]):
            text = text[0].upper() + text[1:]
        return s[:start] + text + s[end:]

    for k, s in verses.items():
        if k.endswith(".1") and s:
            s = recase(s)
        verses[k] = modern_spelling(s)
    return verses


def balance_quotes(text: str) -> str:
    """Drop the curly quote marks a verse opens but never closes, or closes without opening (the speech runs over
    several verses). A ’ between letters, or after one with no ‘ open, is an apostrophe and stays."""
    stray, double, single = set(), [], []
    for i, ch in enumerate(text):
        if ch == "“":
            double.append(i)
        elif ch == "”":
            (double.pop() if double else stray.add(i))
        elif ch == "‘":
            single.append(i)
        elif ch == "’":
            between_letters = 0 < i < len(text) - 1 and text[i - 1].isalpha() and text[i + 1].isalpha()
            if between_letters:
                continue
            if single:
                single.pop()
            elif i > 0 and text[i - 1] in ".,;:!?—”":
                stray.add(i)  # a closing mark after punctuation, with none open: the end of an earlier speech
    stray.update(double + single)
    return " ".join("".join(ch for i, ch in enumerate(text) if i not in stray).split())


def straight_quotes(text: str) -> str:
    return text.translate(str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"}))


# ---------------------------------------------------------------------------------------------- TSV and hf:


def _load_tsv(path: str) -> list[Pair]:
    text = read_text(path)  # refuses binary and non-UTF-8 files, naming them
    pairs, name = [], os.path.basename(path)
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            got = f"{len(parts) - 1} tabs" if len(parts) != 2 else "an empty side"
            raise CorpusError(f"{path} line {n}: expected source<TAB>target, got {got}: {line[:80]!r}")
        pairs.append(Pair(" ".join(parts[0].split()), " ".join(parts[1].split()), "", f"{name}:{n}"))
    if not pairs:
        raise CorpusError(f"{path} is empty: it holds no source<TAB>target lines")
    return pairs


CHOOSE = "--source-lang SOURCE --target-lang TARGET, or languages=(SOURCE, TARGET) in Python"


def _load_hf(spec: str, languages: tuple[str, str] | None) -> list[Pair]:
    ds, config = hub.load_hf(spec), hub.parse(spec)[1] or ""
    columns = ds.column_names
    if "translation" in columns:
        langs = sorted(ds[0]["translation"]) if len(ds) else []
        src, tgt = languages or _languages_of(config, langs, spec)
        if src not in langs or tgt not in langs:
            raise CorpusError(f"data set {spec!r} translates {langs}, not {src!r} -> {tgt!r} ({CHOOSE})")
        rows = ((t[src], t[tgt]) for t in ds["translation"])
    else:
        src, tgt = languages or (("source", "target") if {"source", "target"} <= set(columns) else (None, None))
        if src not in columns or tgt not in columns:
            raise CorpusError(
                f"data set {spec!r} has no `translation` column: name two of its columns {columns} as the "
                f"source and target ({CHOOSE})"
            )
        rows = zip(ds[src], ds[tgt])
    pairs = [
        Pair(" ".join(str(s).split()), " ".join(str(t).split()), "", f"{spec}#{i}")
        for i, (s, t) in enumerate(rows)
        if s and t and str(s).strip() and str(t).strip()
    ]
    if not pairs:
        raise CorpusError(f"data set {spec!r} holds no non-empty {src} -> {tgt} pairs")
    return pairs


def _languages_of(config: str, langs: list[str], spec: str) -> tuple[str, str]:
    parts = tuple(config.split("-"))
    if len(parts) == 2 and set(parts) == set(langs):
        return parts
    raise CorpusError(f"data set {spec!r} translates {langs}: choose the direction ({CHOOSE})")
