"""Parallel corpora, subword vocabularies and translation batches (issue 15)."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import corpus
from corpus import named, parallel
from corpus.parallel import Pair
from translate import data
from translate.tokenizer import END, PAD, START, PairTokenizer

# Genesis 1:1 as the WEB module stores it: the footnote sits between "God" and "created" with no space.
WEB_GEN_1_1 = (
    '<w lemma="strong:H0430">In</w> <w lemma="strong:H7225">beginning</w>, <w lemma="strong:H0430">God'
    '</w><note placement="foot"><reference type="annotateRef">1:1 </reference>The Hebrew word rendered '
    '“God” is “אֱלֹהִ֑ים” (Elohim).</note><w lemma="strong:H1254">created</w> <w>the</w> <w>earth</w>. '
)


def test_a_note_becomes_a_word_gap_and_tags_and_pilcrows_go():
    assert parallel.clean_verse(WEB_GEN_1_1) == "In beginning, God created the earth."
    # a note before punctuation or after a space leaves no space of its own
    assert parallel.clean_verse("<w>earth</w><note>n</note>. <note>m</note> <w>And</w>") == "earth. And"
    kjv = (
        '<div type="x-milestone" subType="x-preverse" sID="pv9"/> ¶ <w>These</w> <transChange type="added">are'
        "</transChange> the <divineName><w>LORD</w></divineName>’s &amp; <title>Written to the Romans</title>"
    )
    assert parallel.clean_verse(kjv) == "These are the LORD’s &"
    # milestones between words are spaces; a speaker label (Song of Songs) is not text
    assert parallel.clean_verse('<speaker>Beloved</speaker> <l sID="a"/>Let<l eID="a"/><l sID="b"/>him') == "Let him"
    # the RV1909's added words: a space before a word, none before an enclitic pronoun
    rv = (
        '<w>su alabanza</w><transChange type="added">sea</transChange><w>en la congregación</w> '
        '<w>haz</w><transChange type="added">lo</transChange> <w>presto</w>'
    )
    assert parallel.clean_verse(rv) == "su alabanza sea en la congregación hazlo presto"
    assert parallel.clean_verse("ALEPH. <w>BIENAVENTURADOS</w> los", "Ps.119.1") == "BIENAVENTURADOS los"


def test_spanish_reads_todays_spelling():
    old = "Y fué á Jehová, é hizo ó dió; Á él vió"
    assert parallel.modern_spelling(old) == "Y fue a Jehová, e hizo o dio; A él vio"
    assert parallel.modern_spelling("está allá, qué más") == "está allá, qué más"  # accents inside words stay
    verses = {
        "Gen.1.1": "EN el principio crió Dios",
        "Gen.1.2": "Y la tierra en Moisés y en el aliento",
        "Gen.2.1": "Y MOISÉS dijo á ellos",
        "Gen.3.1": "MI ALIENTO está",
        "Ps.3.1": "Salmo. ¡OH Jehová",
        "Heb.13.25": "La gracia sea con todos vosotros. Amén. Fué escrita á los Hebreos desde Italia.",
    }
    got = parallel._modern_spanish(dict(verses))
    assert got["Heb.13.25"] == "La gracia sea con todos vosotros. Amén."  # the colophon goes
    assert [got[k] for k in ("Gen.1.1", "Gen.2.1", "Gen.3.1", "Ps.3.1")] == [
        "En el principio crió Dios",
        "Y Moisés dijo a ellos",
        "Mi aliento está",
        "Salmo. ¡Oh Jehová",
    ]


def test_web_quotes_open_and_close_within_the_verse_and_are_straight():
    assert parallel.balance_quotes("He said, “Go.” Then “they went") == "He said, “Go.” Then they went"
    closes_an_earlier_speech = "to the land.” Yahweh’s law, ‘Rest.’”"
    assert parallel.balance_quotes(closes_an_earlier_speech) == "to the land. Yahweh’s law, ‘Rest.’"
    assert parallel.straight_quotes("“Don’t,” ‘no’") == "\"Don't,\" 'no'"


def test_alignment_keeps_keys_in_both_and_leaves_out_misnumbered_chapters():
    src = {"Gen.1.1": "a", "Gen.1.2": "b", "Gen.2.1": "c", "Gen.2.2": "d", "Jonah.2.1": "e", "Tob.1.1": "x"}
    tgt = {"Gen.1.1": "A", "Gen.1.2": "B", "Gen.2.1": "C", "Gen.2.2": "", "Jonah.2.1": "E", "Gen.3.1": "y"}
    rows = parallel._align(src, tgt, "engWEB2015eb", "spaRV1909eb")
    # Gen.2 has a verse empty on one side only (numbered differently there); Jonah.2 is listed as misnumbered
    assert [(r["book"], r["chapter"], r["verse"], r["source"], r["target"]) for r in rows] == [
        ("Gen", 1, 1, "a", "A"),
        ("Gen", 1, 2, "b", "B"),
    ]
    assert parallel._listed("1Kgs.22.50", ["1Kgs.22.43-53"]) and not parallel._listed("1Kgs.22.42", ["1Kgs.22.43-53"])


def _bible_pairs():
    books = parallel.VALIDATION_BOOKS + parallel.TEST_BOOKS + ("Gen", "Matt", "Ps")
    return [Pair(f"{b} {i}", f"{b} {i}!", b, f"{b}.1.{i}") for b in books for i in range(1, 30)]


def test_bible_split_never_shares_a_book_and_hash_split_is_stable():
    splits = parallel.split_pairs(_bible_pairs())
    books = {name: {p.group for p in ps} for name, ps in splits.items()}
    assert books["validation"] == set(parallel.VALIDATION_BOOKS) and books["test"] == set(parallel.TEST_BOOKS)
    assert books["train"] == {"Gen", "Matt", "Ps"}
    lines = [Pair(f"line {i}", f"linea {i}", "", f"t.tsv:{i}") for i in range(2000)] * 2  # each line twice
    hashed = parallel.split_pairs(lines)
    assert 60 < len(hashed["validation"]) < 140 * 2 and 60 < len(hashed["test"]) < 140 * 2
    seen = {}
    for name, ps in hashed.items():
        for p in ps:
            assert seen.setdefault(p.source, name) == name  # a repeated source never crosses splits
    with pytest.raises(corpus.CorpusError, match="too few"):
        parallel.split_pairs(lines[:3])


def test_verses_with_as_many_sentences_a_side_give_sentence_pairs_in_their_book():
    two = Pair(
        'He said, "Come. Sit here." Then he left.', '¿Vienes? Y él dijo: "Siéntate." Entonces se fue.', "Gen", "Gen.2.3"
    )
    # a speech cut at a split loses its quote marks; a whole one keeps them, its closing mark with its sentence
    assert parallel.sentences(two.source) == ["He said, Come.", "Sit here.", "Then he left."]
    assert parallel.sentences('Go! "Who?" ¡Yes! ¿No? (Fine.) Ok.') == [
        "Go!",
        '"Who?"',
        "¡Yes!",
        "¿No?",
        "(Fine.)",
        "Ok.",
    ]
    assert parallel.sentences("Mr. smith came. he sat.") == ["Mr. smith came. he sat."]  # no capital, no split
    verse = Pair(
        "Jesus wept. The Jews said, Behold how he loved him!",
        "Y lloró Jesús. Dijeron los Judíos: ¡Mirad cómo le amaba!",
        "John",
        "John.11.35",
    )
    # `two` has 3 sentences a side, but "He said, Come." and "¿Vienes?" (3 words + 1 against 1 + 1) are not the
    # same sentence: pairing by position would be wrong, so the verse gives none
    pairs = parallel.sentence_pairs([verse, two])
    assert pairs == [
        Pair("Jesus wept.", "Y lloró Jesús.", "John", "John.11.35#1"),
        Pair(
            "The Jews said, Behold how he loved him!",
            "Dijeron los Judíos: ¡Mirad cómo le amaba!",
            "John",
            "John.11.35#2",
        ),
    ]
    assert all(parallel.split_of(p) == "test" for p in pairs)  # a test verse's sentences stay in the test split
    lopsided = Pair("Amen. Praise him and bless him and sing.", "Amén y amén, así sea, amén. Alabadle.", "Ps", "Ps.1.1")
    assert parallel.sentence_pairs([lopsided]) == []  # 2 words against 7: not the same sentence, so nothing
    assert parallel.sentence_pairs([Pair("One sentence.", "Una frase.", "Gen", "Gen.1.1")]) == []
    uneven = Pair("He came. He saw it.", "Vino. Lo vio. Y se fue.", "Gen", "Gen.1.2")  # 2 sentences against 3
    assert parallel.sentence_pairs([uneven]) == [] and parallel.sentence_pairs([uneven], max_ratio=100) == []


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty"),
        (b"hello\thola\n\ngood\n", "line 3: expected source<TAB>target, got 0 tabs"),
        (b"a\tb\tc\n", "line 1: expected source<TAB>target, got 2 tabs"),
        (b"a\t \n", "line 1: .*an empty side"),
        (b"caf\xe9\tcafe\n", "not UTF-8"),
    ],
)
def test_tsv_errors_name_the_file_and_line(tmp_path, content, message):
    path = tmp_path / "pairs.tsv"
    path.write_bytes(content)
    with pytest.raises(corpus.CorpusError, match=message) as e:
        parallel.load_pairs(str(path))
    assert str(path) in str(e.value)


def test_tsv_pairs(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("Hello  world\tHola mundo\r\n\nGood night\tBuenas noches\n", encoding="utf-8")
    assert parallel.load_pairs(str(path)) == [
        Pair("Hello world", "Hola mundo", "", "pairs.tsv:1"),
        Pair("Good night", "Buenas noches", "", "pairs.tsv:3"),
    ]
    with pytest.raises(corpus.CorpusError, match="not found"):
        parallel.load_pairs(str(tmp_path / "missing.tsv"))


def test_hf_path_on_local_data_sets(tmp_path):
    import datasets

    rows = [{"translation": {"en": f"house {i}", "es": f"casa {i}"}} for i in range(5)]
    jsonl = tmp_path / "books.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    pairs = parallel.load_pairs(f"hf:json:{jsonl}", languages=("en", "es"))
    assert [(p.source, p.target) for p in pairs] == [(f"house {i}", f"casa {i}") for i in range(5)]
    assert parallel.load_pairs(f"hf:json:{jsonl}", languages=("es", "en"))[0].source == "casa 0"
    with pytest.raises(corpus.CorpusError, match="choose the direction .--source-lang SOURCE --target-lang TARGET"):
        parallel.load_pairs(f"hf:json:{jsonl}")  # which way to translate is not guessed
    with pytest.raises(corpus.CorpusError, match="not 'en' -> 'fr'"):
        parallel.load_pairs(f"hf:json:{jsonl}", languages=("en", "fr"))
    # two named columns, from a folder written by save_to_disk
    folder = tmp_path / "saved"
    datasets.Dataset.from_dict({"english": ["one", "two"], "german": ["eins", "zwei"]}).save_to_disk(str(folder))
    assert parallel.load_pairs(f"hf:{folder}", languages=("english", "german"))[1] == Pair(
        "two", "zwei", "", f"hf:{folder}#1"
    )
    with pytest.raises(corpus.CorpusError, match=r"name two of its columns \['english', 'german'\].*--source-lang"):
        parallel.load_pairs(f"hf:{folder}")
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("one\teins\n")
    for spec in ("web-es", str(tsv)):  # one direction: the languages choose nothing there
        with pytest.raises(corpus.CorpusError, match="choose the keys or columns of an hf: data set"):
            parallel.load_pairs(spec, languages=("en", "es"))
    with pytest.raises(corpus.CorpusError, match="could not load"):
        parallel.load_pairs(f"hf:json:{tmp_path / 'nothing.jsonl'}")


WORDS = [
    ("light", "luz"),
    ("water", "agua"),
    ("bread", "pan"),
    ("door", "puerta"),
    ("word", "palabra"),
    ("king", "rey"),
]


def test_a_deb_that_fails_its_sha256_is_removed_and_named(tmp_path, monkeypatch):
    monkeypatch.setattr(named, "CACHE", str(tmp_path))
    monkeypatch.setattr(parallel, "CACHE", str(tmp_path / "parallel"))
    bad = tmp_path / "sword-text-web_426.0-1_all.deb"
    bad.write_bytes(b"not the package")
    with pytest.raises(OSError, match="sword-text-web_426.0-1_all.deb failed its sha256 check"):
        parallel.load_pairs("web-es")
    assert not bad.exists() and not (tmp_path / "parallel").exists()


TRAIN = [
    Pair(f"The {en} of the house {i}, {en}.", f"La {es} de la casa {i}, ¿{es}?", "", str(i))
    for i, (en, es) in enumerate(WORDS * 40)
]


@pytest.fixture(scope="module")
def tok():
    return PairTokenizer.train(TRAIN, vocab_size=200)


def test_tokenizer_specials_round_trip_and_save(tok, tmp_path):
    assert not tok.joint  # English and Spanish sides share few words
    for side in (tok.source, tok.target):
        assert [side.tokenizer.id_to_token(i) for i in range(4)] == ["[PAD]", "[UNK]", "[START]", "[END]"]
    text = "La luz de la casa 12, ¿pan?"
    ids = tok.target.encode(text)
    assert min(ids) > END and tok.target.decode([START] + ids + [END, PAD, PAD]) == text
    assert tok.target.pieces("la casa,") == ["▁la", "▁casa", ","]
    assert tok.target.decode(tok.target.encode("la ☃ casa")) == "la ⁇ casa"  # an unseen character
    tok.save(str(tmp_path))
    again = PairTokenizer.load(str(tmp_path))
    assert again.source.encode("The king of the house") == tok.source.encode("The king of the house")
    joint = PairTokenizer.train([Pair(p.source, p.source.upper(), "", "") for p in TRAIN], 200, joint=True)
    assert joint.joint and len(joint.source) == len(joint.target)
    joint.save(str(tmp_path))  # replaces the separate files
    assert PairTokenizer.load(str(tmp_path)).joint
    assert PairTokenizer.train([Pair("the good king", "the king", "", "")] * 10, 100).joint  # auto: one language


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["source", "target"]), st.data(), st.sampled_from([" ", "", "  ", " \t"]))
def test_tokenizer_round_trip_property(tok, side, draw, space):
    """Any text of the side's own characters decodes back exactly, up to collapsed spaces."""
    pieces = sorted({w for p in TRAIN for w in getattr(p, side).replace(",", " , ").split()} | {"7"})
    text = space.join(draw.draw(st.lists(st.sampled_from(pieces), min_size=1, max_size=12)))
    vocab = getattr(tok, side)
    ids = vocab.encode(text)
    assert min(ids) > END and vocab.decode(ids) == " ".join(text.split())


def test_batches_shift_by_one_and_drop_what_does_not_fit(tok):
    pairs = TRAIN[:10] + [Pair("The house " * 30, "La casa", "", "long")]
    enc = data.encode_pairs(pairs, tok, max_src_len=16, max_tgt_len=20)
    assert len(enc) == 10 and enc.dropped == 1 and list(enc.kept) == list(range(10))
    assert enc.source.shape == (10, 16) and enc.decoder_input.shape == enc.decoder_target.shape == (10, 20)
    assert enc.source.dtype == enc.decoder_input.dtype == np.int32
    for r in range(10):
        n = int((enc.decoder_target[r] != PAD).sum())
        assert enc.decoder_input[r, 0] == START and enc.decoder_target[r, n - 1] == END
        assert (enc.decoder_input[r, 1:n] == enc.decoder_target[r, : n - 1]).all()  # shifted by one
        assert (enc.decoder_input[r, n:] == PAD).all()
        assert tok.target.decode(enc.decoder_target[r]) == pairs[r].target
    cut = data.encode_pairs(pairs, tok, max_src_len=16, max_tgt_len=20, too_long="truncate")
    assert len(cut) == 11 and cut.truncated == 1 and (cut.source[10] != PAD).all()
    every = list(data.batches(enc, 4))
    assert len(every) == 3 and all(b[0].shape == (4, 16) for b in every) and (every[-1][2][2:] == PAD).all()


@settings(max_examples=40, deadline=None)
@given(step=st.integers(0, 500), batch_size=st.integers(1, 13), seed=st.integers(0, 3))
def test_batches_are_a_pure_function_of_the_step(tok, step, batch_size, seed):
    enc = data.encode_pairs(TRAIN[:37], tok, max_src_len=24, max_tgt_len=24)
    first = data.batch(enc, step, batch_size, seed)
    data._permutation.cache_clear()  # as in a fresh process after a resume
    again = data.batch(enc, step, batch_size, seed)
    assert all((a == b).all() and a.shape[0] == batch_size for a, b in zip(first, again))


def test_an_epoch_deals_every_pair_once(tok):
    enc = data.encode_pairs(TRAIN[:30], tok, max_src_len=24, max_tgt_len=24)
    rows = np.concatenate([data.batch(enc, s, 5, seed=7)[0] for s in range(6)])
    assert sorted(map(tuple, rows)) == sorted(map(tuple, enc.source))
    assert not (data.batch(enc, 6, 5, seed=7)[0] == rows[:5]).all()  # the next epoch, in another order


@settings(max_examples=40, deadline=None)
@given(step=st.integers(0, 300), batch_size=st.integers(1, 9), seed=st.integers(0, 3), window=st.integers(1, 5))
def test_grouped_batches_are_a_pure_function_of_the_step(tok, step, batch_size, seed, window):
    enc = data.encode_pairs(TRAIN[:37], tok, max_src_len=24, max_tgt_len=24)
    first = data.batch(enc, step, batch_size, seed, window)
    data._permutation.cache_clear()  # as in a fresh process after a resume
    enc.plans.clear()
    again = data.batch(enc, step, batch_size, seed, window)
    assert all((a == b).all() and a.shape[0] == batch_size for a, b in zip(first, again))


def _length(rows):
    return (rows != PAD).sum(1)


def test_grouped_batches_hold_similar_lengths_and_lose_only_padding(tok):
    """An epoch of grouped batches deals n // B * B distinct pairs; each batch is its rows with only [PAD] columns
    cut (rounded up to 8); and a batch's lengths spread far less than random batches' do."""
    enc = data.encode_pairs(TRAIN, tok, max_src_len=40, max_tgt_len=40)
    size, per_epoch = 4, len(enc) // 4
    full = {tuple(row): i for i, row in enumerate(enc.source)}
    seen, spread, random_spread = [], [], []
    for step in range(per_epoch):
        source, dec_in, dec_out = data.batch(enc, step, size, seed=3, window=4)
        assert source.shape[1] % 8 == 0 or source.shape[1] == 40
        assert source.shape[1] - 8 < _length(source).max() <= source.shape[1]  # cut to the longest, rounded up
        assert dec_in.shape == dec_out.shape and dec_out.shape[1] - 8 < _length(dec_out).max()
        padded = np.pad(source, ((0, 0), (0, 40 - source.shape[1])))
        rows = [full[tuple(row)] for row in padded]  # every row is a whole encoded pair, nothing real cut
        np.testing.assert_array_equal(dec_out, enc.decoder_target[rows][:, : dec_out.shape[1]])
        assert (enc.decoder_target[rows][:, dec_out.shape[1] :] == PAD).all()
        seen += rows
        spread.append(np.ptp(np.maximum(_length(source), _length(dec_out))))
        random_spread.append(np.ptp(_length(data.batch(enc, step, size, seed=3)[0])))
    assert len(seen) == len(set(seen)) == per_epoch * size
    assert np.mean(spread) < 0.5 * np.mean(random_spread), (np.mean(spread), np.mean(random_spread))
    nxt = data.batch(enc, per_epoch, size, seed=3, window=4)[0]  # the next epoch starts a new plan
    assert len(enc.plans) == 1 and nxt.shape[0] == size


def test_shared_embeddings_follow_the_vocabulary(tok):
    from translate.train import shared

    joint = PairTokenizer.train([Pair(p.source, p.source.lower(), "", "x") for p in TRAIN], vocab_size=200)
    assert joint.joint and shared("auto", joint) and shared("on", joint) and not shared("off", joint)
    assert not shared("auto", tok) and not shared("off", tok)
    with pytest.raises(ValueError, match="--share-embeddings on needs one joint vocabulary"):
        shared("on", tok)


@pytest.mark.slow
def test_web_es_from_debian_packages(tmp_path, monkeypatch):
    """The real thing, from an empty cache: apt-get download, sha256, pysword, cleaning, alignment."""
    monkeypatch.setattr(named, "CACHE", str(tmp_path))
    monkeypatch.setattr(parallel, "CACHE", str(tmp_path / "parallel"))
    pairs = parallel.load_pairs("web-es")
    assert 30_000 < len(pairs) < 31_200
    first = pairs[0]
    assert (first.key, first.source) == ("Gen.1.1", "In the beginning, God created the heavens and the earth.")
    assert first.target == "En el principio crió Dios los cielos y la tierra."
    john = next(p for p in pairs if p.key == "John.3.16")
    assert "a su Hijo unigénito" in john.target and "his only born Son" in john.source
    assert not any(p.key.startswith("Jonah.2.") for p in pairs)  # one verse off in the RV1909
    text = "\n".join(p.source + "\n" + p.target for p in pairs)
    for bad in ("<", ">", "¶", "“", "”", "Godcreated", " á ", "lemma", "Amén. Fué escrita"):
        assert bad not in text, bad
    splits = parallel.split_pairs(pairs)
    train_books = {p.group for p in splits["train"]}
    assert train_books.isdisjoint(parallel.TEST_BOOKS + parallel.VALIDATION_BOOKS)
    assert {p.group for p in splits["test"]} == set(parallel.TEST_BOOKS)
    assert 0.04 < len(splits["test"]) / len(pairs) < 0.06 and 0.04 < len(splits["validation"]) / len(pairs) < 0.06
    assert parallel.load_pairs("web-es") == pairs  # the second time from the cache
