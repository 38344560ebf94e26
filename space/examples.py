"""The app's examples: each tab's inputs to try, in one place (bench/bert_examples.py scores the BERT ones, so
the README cannot drift from the app)."""

from inside import kinds
from space import defaults

# The modern-English examples go to whichever BERT that read modern English scores best on held-out modern text
# (space.defaults: the recorded bench.bert_heldout results), one for each task
MODERN_MASK = defaults.best_bert("fill_mask", ("bert-modern", "bert-imdb"))
MODERN_PAIR = defaults.best_bert("next_sentence", ("bert-modern", "bert-imdb"))

CHAT_EXAMPLES = [
    "But soft, what light through yonder window breaks?",
    "O, wilt thou leave me so unsatisfied?",
    "Good morrow, fair lady. What news from Verona?",
]
GENERATE_EXAMPLES = [
    "ROMEO:\nBut soft, what light through yonder window breaks?\n",
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\n",
    "KING RICHARD III:\nNow is the winter of our discontent\n",
    "HAMLET:\nTo be, or not to be, that is the question:\n",
]
# (text, the BERT that answers it): modern English for the best modern one, the King James for the one that read it
FILL_MASK_EXAMPLES = [
    ("The movie was so [MASK] that I fell asleep.", MODERN_MASK),
    ("She opened the [MASK] and walked into the room.", MODERN_MASK),
    ("The actors were great, but the [MASK] was boring.", MODERN_MASK),
    ("This is the best [MASK] I have ever seen.", MODERN_MASK),
    ("And the [MASK] said unto Moses,", "bert"),
    ("The king of [MASK] went out to battle.", "bert"),
    ("Thou shalt not [MASK].", "bert"),
]
CLASSIFY_EXAMPLES = [
    "A gorgeous, moving film.",
    "The plot is thin and the acting is wooden; I was bored from start to finish.",
    "Funny, warm and surprisingly wise: one of the best films of the year.",
    "A tedious, overlong mess.",
]
PAIR_EXAMPLES = [
    ["We must reduce the deficit.", "That is why I am sending Congress a budget that cuts spending.", MODERN_PAIR],
    ["We must reduce the deficit.", "The acting is wooden and the plot makes no sense.", MODERN_PAIR],
    [
        "In the beginning God created the heaven and the earth.",
        "And the earth was without form, and void; and darkness was upon the face of the deep.",
        "bert",
    ],
    [
        "In the beginning God created the heaven and the earth.",
        "And the king of Egypt called for the midwives, and said unto them, Why have ye done this thing?",
        "bert",
    ],
]
PAIR_EXAMPLE_LABELS = [
    "deficit → budget (a continuation)",
    "deficit → film review (unrelated)",
    "Genesis 1:1 → 1:2 (true continuation)",
    "Genesis 1:1 → Exodus 1:18 (random pair)",
]

# The register the translators read (the Bible's) first, so a visitor's first try shows what they learnt; last, words
# the Bible lacks, to show what becomes of them. (A modern sentence such as "The children are playing in the garden
# with their dog." came out as nonsense, some of it crude, from the bundled Transformer: README, Translation.)
TRANSLATE_EXAMPLES = [
    "I love you, and I will never leave you.",
    "She wrote a letter to her brother.",
    "The people went up to the mountain to pray.",
    "In the beginning, God created the heavens and the earth.",
    "Where is the train station?",
]

# The Inside tab: (word, sentences one per line, each with its sense in brackets): an ambiguous word in two senses.
# The sentences were chosen among several written for each sense by the bundled models' own vectors (centred
# cosine, inside.reference), as examples that show the point: in each, both same-sense pairs come above every
# cross-sense pair for ELMo's mix and each BERT's last layer. Most other choices of sentences separate the senses
# less cleanly (docs/experiments.md): these models are small. tests/test_inside_senses.py checks what is claimed
# here.
CONTEXT_EXAMPLES = [
    (
        "bank",
        "[money] The bank lent them money to buy a house.\n"
        "[money] The bank raised its interest rates again.\n"
        "[river] Ducks waddled along the muddy bank of the stream.\n"
        "[river] We had a picnic on the grassy bank of the river.",
    ),
    (
        "light",
        "[lamp] The light from the lamp filled the room.\n"
        "[lamp] Please switch on the light in the kitchen.\n"
        "[weight] The box was light enough for a child to lift.\n"
        "[weight] This bag is light enough to carry with one hand.",
    ),
    (
        "spring",
        "[season] We planted the garden in the spring.\n"
        "[season] Lambs are born in the spring.\n"
        "[coil] A metal spring pushes the button back up.\n"
        "[coil] A steel spring holds the trampoline to its frame.",
    ),
]
# (text, the kind of model it is for, the model that read its register if loaded): a prompt for the char LM,
# fill-mask inputs for the modern-English BERT and the King James one (as the Fill-mask tab's examples)
ATTENTION_EXAMPLES = [
    ("ROMEO:\nBut soft, what light through yonder window breaks?", kinds.TRANSFORMER, "char-transformer"),
    ("I went to the [MASK] to buy some bread.", kinds.BERT, MODERN_MASK),
    ("The LORD is my [MASK]; I shall not want.", kinds.BERT, "bert"),
]
GATES_EXAMPLE = (
    "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n\n"
    "JULIET:\nO Romeo, Romeo! wherefore art thou Romeo?\nDeny thy father and refuse thy name.\n"
)
