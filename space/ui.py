"""The app's layout (gr.Blocks with one tab per demo) and its public API.

`build(registry)` makes one space.handlers.Handlers over the loaded models and wires its methods to the page:
the public API endpoints are the methods named in `API`; every UI event is private, so `Client.view_api()`
lists exactly these. To add an endpoint, write a typed method in space/handlers.py and name it here.
"""

import html
import json
import os
import re
import time

import gradio as gr

from inside import kinds
from inside.contexts import MAX_SENTENCES, MIN_SENTENCES, representations
from space import handlers
from space.models import Registry

# The public API: each api_name is the Handlers method of that name (its argument names are the parameter names)
API = ("chat", "generate", "fill_mask", "next_sentence", "classify", "translate", "embed", "attention")

QUEUE_MAX_SIZE = 32  # requests waiting or running; more get "Queue is full! Please try again."
CONCURRENCY_LIMIT = 2  # requests of one kind (one event) running at once on this 2-core machine
# With the LM engines on, every streaming request goes straight to its engine (no Gradio limit), which batches
# it with the others or answers "busy" at once; the worker threads cover the engine's slots and waiting line.
STREAMING = ("chat", "generate")
MAX_THREADS = 128
# Largest HTTP request body: 1 MB of text fits even as escaped JSON (so the handler can refuse it by name, e.g.
# "text is too long: 1,048,576 characters"); bigger bodies get 413 before Gradio reads them into memory.
MAX_REQUEST_BYTES = 8 * 1024 * 1024
MAX_UPLOAD = "1mb"  # the app takes no files; uploads are capped anyway

PRIVATE = "private"
BERT_NOTE = (
    "Models: **bert-modern** read modern English (the World English Bible, State of the Union speeches, IMDB "
    "reviews, the Brown corpus); **bert** the King James Bible and Shakespeare; **bert-imdb** IMDB reviews."
)

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
# (text, the BERT that answers it): modern English for the modern BERT, the King James for the one that read it
FILL_MASK_EXAMPLES = [
    ("The movie was so [MASK] that I fell asleep.", "bert-modern"),
    ("She opened the [MASK] and walked into the room.", "bert-modern"),
    ("The actors were great, but the [MASK] was boring.", "bert-modern"),
    ("This is the best [MASK] I have ever seen.", "bert-modern"),
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
    ["We must reduce the deficit.", "That is why I am sending Congress a budget that cuts spending.", "bert-modern"],
    ["We must reduce the deficit.", "The acting is wooden and the plot makes no sense.", "bert-modern"],
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

TRANSLATE_EXAMPLES = [
    "Where is the train station?",
    "I love you, and I will never leave you.",
    "The children are playing in the garden with their dog.",
    "In the beginning, God created the heavens and the earth.",
]

# The Inside tab: (word, sentences one per line): an ambiguous word in two senses
CONTEXT_EXAMPLES = [
    (
        "bank",
        "I paid the money into my account at the bank.\n"
        "The bank raised its interest rates again.\n"
        "We had a picnic on the grassy bank of the river.\n"
        "The boat drifted towards the muddy bank.",
    ),
    (
        "light",
        "Please switch on the light in the kitchen.\n"
        "The morning light came through the window.\n"
        "This bag is light enough to carry with one hand.\n"
        "She packed a light jacket for the trip.",
    ),
    (
        "spring",
        "The flowers bloom in the spring.\n"
        "We go walking every spring when the days get longer.\n"
        "The old mattress has a broken spring.\n"
        "Press the spring down and let it go.",
    ),
]
# (text, the kind of model it is for, the model that read its register if loaded): a prompt for the char LM,
# fill-mask inputs for the modern-English BERT and the King James one (as the Fill-mask tab's examples)
ATTENTION_EXAMPLES = [
    ("ROMEO:\nBut soft, what light through yonder window breaks?", kinds.TRANSFORMER, "char-transformer"),
    ("I went to the [MASK] to buy some bread.", kinds.BERT, "bert-modern"),
    ("The LORD is my [MASK]; I shall not want.", kinds.BERT, "bert"),
]
GATES_EXAMPLE = (
    "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n\n"
    "JULIET:\nO Romeo, Romeo! wherefore art thou Romeo?\nDeny thy father and refuse thy name.\n"
)
STRIPS = 4  # cells shown as coloured text in the LSTM gates view

CSS = """
.seqlab-speed {min-height: 1.6em}
.seqlab-strip {font-family: ui-monospace, monospace; font-size: 0.85em; line-height: 1.5; white-space: pre-wrap;
  word-break: break-all; margin: 0.2em 0 0.8em 0}
.seqlab-strip span {border-radius: 2px}
"""


def _limits_markdown(registry: Registry) -> str:
    h = handlers
    c = registry.engine_config
    if c is None:
        streams = ""
    else:
        streams = (
            f"- Chat and generation: each language model decodes up to {c.slots} streams together and keeps "
            f"{c.waiting} more waiting; beyond that the answer is *busy: ... try again in a moment*.\n"
        )
    return (
        "### Limits\n"
        "- Text (message, prompt, fill-mask text, each sentence, text to classify): "
        f"1 to {h.MAX_TEXT_CHARS:,} characters of valid Unicode (no lone surrogates).\n"
        f"- Fill-mask: 1 to {h.MAX_MASKS} `[MASK]` tokens; top_k 1 to {h.MAX_FILL_TOP_K}.\n"
        f"- max_new_tokens 1 to {h.MAX_NEW_TOKENS}; temperature 0 to {h.MAX_TEMPERATURE:g} (0 = greedy); "
        "top_k 0 (off) to the vocabulary size; top_p in (0, 1]; seed 0 to 2³²-1 or empty for random.\n"
        f"- Translate: one text of at most {h.MAX_TEXT_CHARS:,} characters and the translator's own limit of "
        f"subwords (64 for the bundled ones); beam 1 to {h.MAX_BEAM}.\n"
        f"- `/embed`: at most {h.MAX_EMBED_TOKENS} tokens (BERT's `[CLS]` and `[SEP]` included); `layer` -1 (ELMo's "
        "mix, BERT's last layer) to the model's deepest layer, 0 context-free. "
        f"`/attention` and the Attention view: at most {h.MAX_ATTENTION_TOKENS} tokens (characters for a character "
        "LM). Both answers hold at most "
        f"{h.MAX_ANSWER_NUMBERS:,} numbers (about 1 MB): a model with wider vectors or more attention maps than the "
        "bundled ones takes fewer tokens, and the error says how many.\n"
        f"- Contexts: one word of at most {h.MAX_WORD_CHARS} letters or digits, in each of {MIN_SENTENCES} to "
        f"{MAX_SENTENCES} sentences of at most {h.MAX_SENTENCE_CHARS} characters. "
        f"LSTM gates: at most {h.MAX_GATES_CHARS:,} characters (the heatmap shows the first {h.GATES_SHOWN}).\n"
        f"- Request body: at most {MAX_REQUEST_BYTES // 2**20} MB (larger ones get HTTP 413 before they are read).\n"
        f"- Queue: at most {QUEUE_MAX_SIZE} requests waiting; {CONCURRENCY_LIMIT} of each kind run at once"
        f"{' (chat and generation: see below)' if streams else ''}. "
        "When it is full the answer is *Queue is full! Please try again.*\n" + streams
    )


def _card_markdown(card: str) -> str:
    """A model card without its YAML front matter and its relative images (shown separately)."""
    card = re.sub(r"\A---\n.*?\n---\n", "", card or "", flags=re.S)
    return re.sub(r"!\[[^\]]*\]\((?!https?://)[^)]*\)\n?", "", card).strip()


def _loss_curve(model) -> str | None:
    folder = getattr(model, "card_dir", None) or getattr(model, "folder", None)
    path = os.path.join(folder, "loss_curve.png") if folder else None
    return path if path and os.path.exists(path) else None


# ---------------------------------------------------------------- UI-only wrappers (private events)

UI_UPDATE_SECONDS = 0.05  # the side-by-side view sends at most ~20 updates a second to the browser


def _generate_ui(h: handlers.Handlers):
    """The Generate tab's event over `h`: both models side by side, the next-token candidates once."""

    def generate_ui(prompt, model_a, model_b, max_new_tokens, temperature, top_k, top_p, seed):
        labels = [h.next_token_candidates(prompt, name) for name in (model_a, model_b)]
        last, latest = 0.0, None
        for latest in h.compare(prompt, model_a, model_b, max_new_tokens, temperature, top_k, top_p, seed):
            if time.perf_counter() - last >= UI_UPDATE_SECONDS:
                text_a, speed_a, text_b, speed_b = latest
                # the candidates go once; later updates carry only what changed
                yield (
                    (labels[0] if not last else gr.skip()),
                    text_a,
                    speed_a,
                    (labels[1] if not last else gr.skip()),
                    text_b,
                    speed_b,
                )
                last, latest = time.perf_counter(), None
        if latest is not None:
            text_a, speed_a, text_b, speed_b = latest
            yield (
                (labels[0] if not last else gr.skip()),
                text_a,
                speed_a,
                (labels[1] if not last else gr.skip()),
                text_b,
                speed_b,
            )

    return generate_ui


def _fill_mask_ui(h: handlers.Handlers):
    """The Fill-mask tab's event over `h`: one label per [MASK], the others hidden."""

    def fill_mask_ui(text, top_k=5, model=None):
        result = h.fill_mask(text, top_k, model)
        per_mask = result if isinstance(result, list) else [result]
        updates = []
        for i in range(handlers.MAX_MASKS):
            if i < len(per_mask):
                updates.append(gr.Label(value=per_mask[i], label=f"[MASK] {i + 1}", visible=True))
            else:
                updates.append(gr.Label(value=None, visible=False))
        return updates

    return fill_mask_ui


MEAN_HEADS = "mean of the heads"


def _translate_ui(h: handlers.Handlers, names: list[str]):
    """The Translate tab's event over `h`: every loaded translator on the same input, each with its attention map
    (the Transformer's at the chosen layer and head)."""
    from space.plots import attention_heatmap

    def translate_ui(text, beam, layer, head):
        outputs = []
        for name in names:
            t = h.translation(text, name, beam)
            if t.attention.ndim == 2:  # the RNN's single attention
                weights, title = t.attention, "attention (Bahdanau)"
            else:
                layers = t.attention.shape[1]
                index = min(int(str(layer).split()[-1]), layers) - 1 if layer else layers - 1
                pick = None if head in (None, "", MEAN_HEADS) else int(str(head).split()[-1]) - 1
                weights = t.attention_map(layer=index, head=pick)
                title = f"cross-attention, layer {index + 1}, " + (
                    "mean of the heads" if pick is None else f"head {pick + 1}"
                )
            plot = attention_heatmap(weights, t.target_tokens, t.source_tokens, title) if t.target_tokens else None
            score = f"log probability {t.score:.2f} (length-normalised){'' if t.finished else ', cut at the limit'}"
            outputs += [t.text, score, plot]
        return outputs

    return translate_ui


def _number_in(choice, top: int) -> int:
    """1..top from a dropdown's "layer 3" / "head 2" (the last one for anything else), clamped to `top`."""
    try:
        return max(1, min(int(str(choice).split()[-1]), top))
    except (ValueError, IndexError):
        return top


def _md_token(token: str) -> str:
    return "`" + handlers.show_token(token).replace("`", "ˋ") + "`"


def _attention_note(name: str, tokens: list[str], weights, causal: bool) -> str:
    """What the map says, in words: a causal LM's empty upper triangle; BERT's [MASK] and [CLS] rows."""
    from inside.attention import focus

    def looks(i: int) -> str:
        return ", ".join(f"{_md_token(t)} {w:.2f}" for t, w in focus(tokens, weights, i))

    if causal:
        return (
            f"**{name}** is a causal language model: each token attends only to itself and the tokens before it, so "
            "the triangle above the diagonal is empty (exactly 0). "
            f"The last token, {_md_token(tokens[-1])}, attends most to: {looks(len(tokens) - 1)}."
        )
    lines = [f"**{name}** is a BERT: every token attends to the whole text, both ways (no triangle)."]
    masks = [i for i, t in enumerate(tokens) if t == handlers.MASK]
    lines += [f"- `[MASK]` (token {i}) attends most to: {looks(i)}" for i in masks[: handlers.MAX_MASKS]]
    if "[CLS]" in tokens:
        lines.append(f"- `[CLS]` (the sentence's summary token) attends most to: {looks(tokens.index('[CLS]'))}")
    if not masks:
        lines.append("- Write `[MASK]` in the text to see what the token BERT must guess attends to.")
    return "\n".join(lines)


def _attention_ui(h: handlers.Handlers):
    """The Attention view's event over `h`: one map (a layer, a head or the heads' mean) and what it says."""
    from space.plots import attention_heatmap

    def attention_ui(text, model, layer, head):
        name, maps = h.attention_maps(text, model)
        layers, heads = maps.weights.shape[:2]
        index = _number_in(layer, layers) - 1
        pick = None if head in (None, "", MEAN_HEADS) else _number_in(head, heads) - 1
        weights = maps.map(index, pick)
        title = f"{name}: layer {index + 1}, " + ("mean of the heads" if pick is None else f"head {pick + 1}")
        # a causal map's first rows have one or two keys, so weights near 1: colour by the rows after them
        rest = weights[4:] if maps.causal and len(weights) > 8 else weights
        plot = attention_heatmap(weights, maps.tokens, maps.tokens, title, vmax=float(rest.max()))
        return plot, _attention_note(name, maps.tokens, weights, maps.causal)

    return attention_ui


def _attention_choices(models: dict):
    """The Attention view's layer and head choices for a model (its own layers and heads)."""

    def choices(model):
        m = models.get(model)
        layers, heads = (kinds.layers(m), kinds.heads(m)) if m is not None else (1, 1)
        return (
            gr.Dropdown(choices=[f"layer {i}" for i in range(1, layers + 1)], value=f"layer {layers}"),
            gr.Dropdown(choices=[MEAN_HEADS] + [f"head {i}" for i in range(1, heads + 1)], value=MEAN_HEADS),
        )

    return choices


def _contexts_ui(h: handlers.Handlers, slots: int):
    """The Contexts view's event over `h`: a similarity heatmap per representation at once, then the nearest
    reference words (the first request embeds the reference sentences once per model: some seconds)."""
    from space.plots import similarity_heatmap

    def contexts_ui(word, sentences):
        c = h.contexts(word, sentences)
        labels = [str(i + 1) for i in range(len(c.sentences))]
        plots = [similarity_heatmap(r.matrix, labels, r.label) for r in c.representations]
        plots += [None] * (slots - len(plots))
        legend = "\n".join(f"{i + 1}. {s}" for i, s in enumerate(c.sentences))
        ref = h.reference()
        if ref is not None and not all(ref.ready(r.model) for r in c.representations):
            wait = [["", "", f"embedding the {len(ref)} reference sentences once for each model (first use)…"]]
            yield *plots, legend, wait
        yield *plots, legend, h.nearest(c) or [["", "", "no reference set on this server"]]

    return contexts_ui


def _strip_html(tokens: list[str], values) -> str:
    """The text with each character's background coloured by a cell's value: red above the cell's mean over the
    text, blue below, the stronger the further (a cell that tracks a feature rises and falls with it)."""
    import numpy as np

    values = np.asarray(values, np.float64)
    centred = values - values.mean()
    scale = float(np.abs(centred).max())
    spans = []
    for ch, v in zip(tokens, centred):
        alpha = min(1.0, abs(float(v)) / scale) if scale > 0 else 0.0
        colour = f"rgba(214, 39, 40, {alpha:.2f})" if v >= 0 else f"rgba(31, 119, 180, {alpha:.2f})"
        shown = "⏎\n" if ch == "\n" else html.escape(ch)
        spans.append(f'<span style="background:{colour}" title="{float(v):+.2f}">{shown}</span>')
    return '<div class="seqlab-strip">' + "".join(spans) + "</div>"


def _gates_ui(h: handlers.Handlers):
    """The LSTM gates view's event over `h`: the cells that track the text's layout (described, and as coloured
    text) and the gates heatmap."""
    from space.plots import gates_heatmap

    def gates_ui(text, model):
        view = h.gates(text, model)
        shown = min(len(view.tokens), handlers.GATES_SHOWN)
        parts = []
        for cell in view.cells[:STRIPS]:
            parts.append(
                f"<p><b>{html.escape(cell.feature)}</b>: layer {cell.layer}, unit {cell.unit} (L{cell.layer} "
                f"u{cell.unit} below), r = {cell.correlation:+.2f} over this text</p>"
                + _strip_html(view.tokens, cell.values)
            )
        strips = "".join(parts) or "<p>Type a few lines to find cells that track them.</p>"
        cut = "" if shown == len(view.tokens) else f", first {shown} of {len(view.tokens)} characters"
        plot = gates_heatmap(
            {g: a[:, :shown] for g, a in view.gates.items()}, view.rows, view.tokens[:shown], f"gates{cut}"
        )
        return strips, plot

    return gates_ui


def _translator_info(c) -> str:
    if c.arch == "rnn":
        return f"rnn ({c.cell} + {c.attention} attention)"
    return f"transformer ({c.layers}+{c.layers} layers)"


def _model_info(name, model) -> str:
    c = model.config
    parts = [
        getattr(c, "arch", "?"),
        f"{getattr(c, 'level', '?')}-level",
        f"context {getattr(model, 'context_length', '?')} tokens",
        f"vocabulary {getattr(c, 'vocab_size', '?')}",
    ]
    return f"**{name}**: " + ", ".join(str(p) for p in parts)


# ---------------------------------------------------------------- layout


def build(registry: Registry) -> gr.Blocks:
    """The page and its API over the models in `registry`: every handler gets them from here, none looks them up."""
    h = handlers.Handlers(registry)
    generate_ui, fill_mask_ui = _generate_ui(h), _fill_mask_ui(h)
    names = list(registry.lms)
    default = registry.default_lm
    side_a = registry.lm_of_arch("lstm") or default
    side_b = registry.lm_of_arch("transformer") or (names[1] if len(names) > 1 else default)
    # top-k slider up to the largest vocabulary (at most 100); the API takes up to each model's vocabulary
    bert_names, default_bert = list(registry.berts), next(iter(registry.berts), None)
    max_top_k = min(100, max(int(getattr(m.config, "vocab_size", 100) or 100) for m in registry.lms.values()))

    with gr.Blocks(title="SeqLab") as demo:
        # The public API first, so these names are taken before any UI event is named.
        streaming_limit = None if registry.engine_config else CONCURRENCY_LIMIT  # None: the engine decides
        for api_name in API:
            limit = streaming_limit if api_name in STREAMING else CONCURRENCY_LIMIT
            gr.api(getattr(h, api_name), api_name=api_name, concurrency_limit=limit)
        gr.Markdown(
            "# SeqLab\nSmall language models and a small BERT, trained from scratch with Keras. "
            "Chat with a Shakespeare LM, compare an LSTM with a Transformer, fill in masked words, "
            "ask whether one sentence follows another, classify a review, translate English into "
            "Spanish while watching what the translator attends to, and look inside the models: contextual "
            "embeddings (ELMo, BERT), attention maps and LSTM gates."
        )
        if registry.notices:
            gr.Markdown("> ⚠️ " + "\n>\n> ⚠️ ".join(registry.notices))

        with gr.Tabs():
            # ---------------- Chat
            with gr.Tab("Chat", id="chat"):
                gr.Markdown(
                    f"You speak as **{handlers.USER_SPEAKER}**; the model answers as "
                    f"**{handlers.MODEL_SPEAKER}**, one speech at a time, as in a play."
                )
                with gr.Row():
                    chat_model = gr.Dropdown(names, value=default, label="Model", scale=2)
                    chat_seed = gr.Textbox(value="", label="Seed (empty = random)", placeholder="random", scale=1)
                with gr.Accordion("Sampling", open=False):
                    with gr.Row():
                        chat_max = gr.Slider(1, handlers.MAX_NEW_TOKENS, value=200, step=1, label="Max new tokens")
                        chat_temp = gr.Slider(
                            0, handlers.MAX_TEMPERATURE, value=0.8, step=0.05, label="Temperature (0 = greedy)"
                        )
                        chat_top_k = gr.Slider(0, max_top_k, value=0, step=1, label="Top-k (0 = off)")
                        chat_top_p = gr.Slider(0.05, 1.0, value=1.0, step=0.05, label="Top-p")
                gr.ChatInterface(
                    h.chat_turn,
                    chatbot=gr.Chatbot(height=380, label="Dialogue", placeholder="Speak, and the model answers."),
                    additional_inputs=[chat_model, chat_max, chat_temp, chat_top_k, chat_top_p, chat_seed],
                    examples=[[e] for e in CHAT_EXAMPLES],  # shown in the chatbot; run with the current settings
                    example_labels=CHAT_EXAMPLES,
                    cache_examples=False,
                    api_name="ui_chat",
                    api_visibility=PRIVATE,
                    concurrency_limit=streaming_limit,
                    fill_height=False,
                )

            # ---------------- Generate
            with gr.Tab("Generate", id="generate"):
                gr.Markdown("Raw continuation of a prompt by two models side by side, on the same prompt and seed.")
                prompt = gr.Textbox(label="Prompt", lines=3, value=GENERATE_EXAMPLES[0])
                with gr.Row():
                    gen_max = gr.Slider(1, handlers.MAX_NEW_TOKENS, value=200, step=1, label="Max new tokens")
                    gen_temp = gr.Slider(
                        0, handlers.MAX_TEMPERATURE, value=0.8, step=0.05, label="Temperature (0 = greedy)"
                    )
                    gen_top_k = gr.Slider(0, max_top_k, value=0, step=1, label="Top-k (0 = off)")
                    gen_top_p = gr.Slider(0.05, 1.0, value=1.0, step=0.05, label="Top-p")
                    gen_seed = gr.Textbox(value="1234", label="Seed (empty = random)", placeholder="random")
                with gr.Row():
                    gen_btn = gr.Button("Generate", variant="primary")
                    gen_stop = gr.Button("Stop", variant="stop")
                with gr.Row(equal_height=False):
                    columns = []
                    for side in (side_a, side_b):
                        with gr.Column():
                            model = gr.Dropdown(names, value=side, label="Model")
                            speed = gr.Markdown("", elem_classes="seqlab-speed")
                            text = gr.Textbox(label="Continuation", lines=10, max_lines=20, interactive=False)
                            label = gr.Label(num_top_classes=10, label="Next-token candidates after the prompt")
                            columns.append((model, speed, text, label))
                (model_a, speed_a, text_a, label_a), (model_b, speed_b, text_b, label_b) = columns
                gen_event = gen_btn.click(
                    generate_ui,
                    [prompt, model_a, model_b, gen_max, gen_temp, gen_top_k, gen_top_p, gen_seed],
                    [label_a, text_a, speed_a, label_b, text_b, speed_b],
                    api_name="ui_generate",
                    api_visibility=PRIVATE,
                    concurrency_limit=streaming_limit,
                )
                gen_stop.click(None, None, None, cancels=[gen_event], api_name="ui_stop", api_visibility=PRIVATE)
                gr.Examples(GENERATE_EXAMPLES, [prompt], label="Prompts", api_visibility=PRIVATE)

            # ---------------- Fill-mask
            with gr.Tab("Fill-mask", id="fill_mask"):
                gr.Markdown(
                    f"Write `[MASK]` where a word is missing (up to {handlers.MAX_MASKS}); BERT guesses it. "
                    + BERT_NOTE
                )
                mask_examples = [[t, m] for t, m in FILL_MASK_EXAMPLES if m in registry.berts]
                first = mask_examples[0][0] if mask_examples else FILL_MASK_EXAMPLES[0][0]
                mask_text = gr.Textbox(label="Text", lines=2, value=first)
                with gr.Row():
                    mask_model = gr.Dropdown(bert_names, value=default_bert, label="Model")
                    mask_top_k = gr.Slider(1, handlers.MAX_FILL_TOP_K, value=5, step=1, label="Top-k")
                    mask_btn = gr.Button("Fill", variant="primary")
                with gr.Row():
                    mask_labels = [gr.Label(label=f"[MASK] {i + 1}", visible=i == 0) for i in range(handlers.MAX_MASKS)]
                mask_inputs = [mask_text, mask_top_k, mask_model]
                mask_btn.click(fill_mask_ui, mask_inputs, mask_labels, api_name="ui_fill_mask", api_visibility=PRIVATE)
                mask_text.submit(
                    fill_mask_ui, mask_inputs, mask_labels, api_name="ui_fill_mask_submit", api_visibility=PRIVATE
                )
                gr.Examples(
                    mask_examples or [[FILL_MASK_EXAMPLES[0][0], default_bert]],
                    [mask_text, mask_model],
                    mask_labels,
                    fn=lambda text, model: fill_mask_ui(text, 5, model),
                    run_on_click=True,
                    cache_examples=False,
                    label="Examples (click to run)",
                    api_name="ui_fill_mask_example",
                    api_visibility=PRIVATE,
                )

            # ---------------- Sentence pair
            with gr.Tab("Sentence pair", id="next_sentence"):
                gr.Markdown("Does sentence B follow sentence A? BERT's next-sentence prediction. " + BERT_NOTE)
                pairs = [(r, label) for r, label in zip(PAIR_EXAMPLES, PAIR_EXAMPLE_LABELS) if r[2] in registry.berts]
                first = pairs[0][0] if pairs else PAIR_EXAMPLES[0]
                with gr.Row():
                    sentence_a = gr.Textbox(label="Sentence A", lines=2, value=first[0])
                    sentence_b = gr.Textbox(label="Sentence B", lines=2, value=first[1])
                with gr.Row():
                    pair_model = gr.Dropdown(bert_names, value=default_bert, label="Model")
                    pair_btn = gr.Button("Predict", variant="primary")
                pair_label = gr.Label(label="Next sentence?")
                pair_btn.click(
                    h.next_sentence,
                    [sentence_a, sentence_b, pair_model],
                    pair_label,
                    api_name="ui_next_sentence",
                    api_visibility=PRIVATE,
                )
                gr.Examples(
                    [row for row, _ in pairs] or [PAIR_EXAMPLES[0][:2] + [default_bert]],
                    [sentence_a, sentence_b, pair_model],
                    pair_label,
                    fn=h.next_sentence,
                    run_on_click=True,
                    cache_examples=False,
                    example_labels=[label for _, label in pairs] or ["an example"],
                    label="Examples (click to run)",
                    api_name="ui_next_sentence_example",
                    api_visibility=PRIVATE,
                )

            # ---------------- Classify
            with gr.Tab("Classify", id="classify"):
                clf = registry.classifier
                gr.Markdown(
                    "Is a movie review positive or negative? "
                    + (
                        f"Classifier **{getattr(clf, 'name', 'sentiment')}** (see the About tab)."
                        if clf is not None
                        else "**No classifier is loaded on this server.**"
                    )
                )
                clf_text = gr.Textbox(label="Review", lines=3, value=CLASSIFY_EXAMPLES[0])
                clf_btn = gr.Button("Classify", variant="primary")
                clf_label = gr.Label(label="Sentiment", num_top_classes=2)
                clf_btn.click(h.classify, [clf_text], clf_label, api_name="ui_classify", api_visibility=PRIVATE)
                clf_text.submit(
                    h.classify, [clf_text], clf_label, api_name="ui_classify_submit", api_visibility=PRIVATE
                )
                gr.Examples(
                    [[e] for e in CLASSIFY_EXAMPLES],
                    [clf_text],
                    clf_label,
                    fn=h.classify,
                    run_on_click=True,
                    cache_examples=False,
                    label="Examples (click to run)",
                    api_name="ui_classify_example",
                    api_visibility=PRIVATE,
                )

            # ---------------- Translate
            with gr.Tab("Translate", id="translate", elem_id="translate-tab"):
                t_names = list(registry.translators)
                gr.Markdown(
                    "English in, Spanish out: a bi-GRU with Bahdanau attention and a Transformer, trained on "
                    "Bible verses (World English Bible → Reina-Valera 1909 in modern spelling), side by side. "
                    "Each map shows which source words every output word attended to."
                    + ("" if t_names else "\n\n**No translator is loaded on this server.**")
                )
                tr_text = gr.Textbox(label="English", lines=2, value=TRANSLATE_EXAMPLES[0])
                deepest = max(
                    [t.config.layers for t in registry.translators.values() if t.config.arch == "transformer"] or [1]
                )
                heads = max(
                    [t.config.heads for t in registry.translators.values() if t.config.arch == "transformer"] or [1]
                )
                with gr.Row():
                    tr_beam = gr.Slider(1, handlers.MAX_BEAM, value=4, step=1, label="Beam width (1 = greedy)")
                    tr_layer = gr.Dropdown(
                        [f"layer {i}" for i in range(1, deepest + 1)],
                        value=f"layer {deepest}",
                        label="Transformer layer",
                    )
                    tr_head = gr.Dropdown(
                        [MEAN_HEADS] + [f"head {i}" for i in range(1, heads + 1)],
                        value=MEAN_HEADS,
                        label="Transformer head",
                    )
                tr_btn = gr.Button("Translate", variant="primary")
                tr_outputs = []
                with gr.Row(equal_height=False):
                    for name in t_names:
                        with gr.Column():
                            tr_outputs += [
                                gr.Textbox(label=f"{name}", lines=2, interactive=False),
                                gr.Markdown("", elem_classes="seqlab-speed"),
                                gr.Plot(label=f"{name}: attention (target × source)", show_label=False),
                            ]
                translate_ui = _translate_ui(h, t_names)
                tr_inputs = [tr_text, tr_beam, tr_layer, tr_head]
                for i, trigger in enumerate((tr_btn.click, tr_text.submit, tr_layer.change, tr_head.change)):
                    trigger(translate_ui, tr_inputs, tr_outputs, api_name=f"ui_translate_{i}", api_visibility=PRIVATE)
                gr.Examples(
                    [[e] for e in TRANSLATE_EXAMPLES],
                    [tr_text],
                    tr_outputs,
                    fn=lambda text: translate_ui(text, 4, f"layer {deepest}", MEAN_HEADS),
                    run_on_click=True,
                    cache_examples=False,
                    label="Examples (click to run)",
                    api_name="ui_translate_example",
                    api_visibility=PRIVATE,
                )

            # ---------------- Inside
            with gr.Tab("Inside", id="inside", elem_id="inside-tab"):
                gr.Markdown(
                    "How the models work, seen from the inside: the same word's vectors in different sentences, "
                    "what each token attends to, and the LSTM's gates and cells. Every picture is computed by the "
                    "models' own layers (the `inside` package); the API has `/embed` and `/attention`."
                )
                with gr.Tabs():
                    with gr.Tab("Contexts", id="inside_contexts", elem_id="inside-contexts"):
                        reps = representations(registry.encoders, registry.berts)
                        gr.Markdown(
                            "A word in different sentences: how alike are its vectors (cosine similarity, 1 = the "
                            "same direction)? A **static** layer gives the word one vector whatever the sentence, so "
                            "every cell is 1; ELMo's biLSTM layers and BERT's blocks read the sentence around it, so "
                            "its senses come apart. Below, each occurrence's nearest words among "
                            f"{handlers.REFERENCE_PER_SENSE * 54} reference sentences (27 ambiguous words, two "
                            "sentences for each of their two senses: a sense in brackets)."
                            + ("" if reps else "\n\n**No ELMo or BERT is loaded on this server.**")
                        )
                        with gr.Row():
                            ctx_word = gr.Textbox(value=CONTEXT_EXAMPLES[0][0], label="Word", scale=1)
                            ctx_btn = gr.Button("Compare", variant="primary", scale=1)
                        ctx_sentences = gr.Textbox(
                            value=CONTEXT_EXAMPLES[0][1],
                            lines=MAX_SENTENCES,
                            label=f"Sentences, one per line ({MIN_SENTENCES} to {MAX_SENTENCES}), each with the word",
                        )
                        with gr.Row(equal_height=False):
                            ctx_plots = []
                            for rep in reps:
                                with gr.Column(min_width=260):
                                    ctx_plots.append(gr.Plot(label=rep.label, show_label=False))
                        ctx_legend = gr.Markdown("")
                        ctx_table = gr.Dataframe(
                            headers=["#", "representation", "nearest reference words (cosine)"],
                            label="Nearest reference words",
                            wrap=True,
                            interactive=False,
                            column_widths=["8%", "30%", "62%"],
                        )
                        contexts_ui = _contexts_ui(h, len(reps))
                        ctx_outputs = [*ctx_plots, ctx_legend, ctx_table]
                        for i, trigger in enumerate((ctx_btn.click, ctx_word.submit)):
                            trigger(
                                contexts_ui,
                                [ctx_word, ctx_sentences],
                                ctx_outputs,
                                api_name=f"ui_contexts_{i}",
                                api_visibility=PRIVATE,
                            )
                        gr.Examples(
                            [list(e) for e in CONTEXT_EXAMPLES],
                            [ctx_word, ctx_sentences],
                            ctx_outputs,
                            fn=contexts_ui,
                            run_on_click=True,
                            cache_examples=False,
                            example_labels=[e[0] for e in CONTEXT_EXAMPLES],
                            label="Examples (click to run)",
                            api_name="ui_contexts_example",
                            api_visibility=PRIVATE,
                        )

                    with gr.Tab("Attention", id="inside_attention", elem_id="inside-attention"):
                        att_models = h.inside_models((kinds.TRANSFORMER, kinds.BERT))
                        att_names = list(att_models)
                        att_default = next(iter(att_names), None)
                        gr.Markdown(
                            "Self-attention: row *i* is what token *i* attends to (each row sums to 1). The "
                            "Transformer LM reads left to right, so its maps are a triangle; BERT reads the whole "
                            f"text, so write `[MASK]` to see what the word it must guess looks at. At most "
                            f"{handlers.MAX_ATTENTION_TOKENS} tokens (characters for the character LM)."
                            + ("" if att_names else "\n\n**No Transformer LM or BERT is loaded on this server.**")
                        )
                        first = next(
                            (
                                t
                                for t, k, _ in ATTENTION_EXAMPLES
                                if att_default and k == kinds.kind(att_models[att_default])
                            ),
                            ATTENTION_EXAMPLES[0][0],
                        )
                        att_text = gr.Textbox(value=first, lines=2, label="Text")
                        layers_0 = kinds.layers(att_models[att_default]) if att_default else 1
                        heads_0 = kinds.heads(att_models[att_default]) if att_default else 1
                        with gr.Row():
                            att_model = gr.Dropdown(att_names, value=att_default, label="Model")
                            att_layer = gr.Dropdown(
                                [f"layer {i}" for i in range(1, layers_0 + 1)], value=f"layer {layers_0}", label="Layer"
                            )
                            att_head = gr.Dropdown(
                                [MEAN_HEADS] + [f"head {i}" for i in range(1, heads_0 + 1)],
                                value=MEAN_HEADS,
                                label="Head",
                            )
                        att_btn = gr.Button("Show attention", variant="primary")
                        att_plot = gr.Plot(label="attention (query × key)", show_label=False)
                        att_note = gr.Markdown("")
                        attention_ui = _attention_ui(h)
                        att_inputs = [att_text, att_model, att_layer, att_head]
                        att_model.change(
                            _attention_choices(att_models),
                            [att_model],
                            [att_layer, att_head],
                            api_name="ui_attention_choices",
                            api_visibility=PRIVATE,
                        )
                        for i, trigger in enumerate((att_btn.click, att_text.submit, att_layer.input, att_head.input)):
                            trigger(
                                attention_ui,
                                att_inputs,
                                [att_plot, att_note],
                                api_name=f"ui_attention_{i}",
                                api_visibility=PRIVATE,
                            )
                        # each example with its model if loaded, else the first loaded model of its kind
                        att_examples = [
                            [
                                t,
                                own
                                if own in att_models
                                else next(n for n in att_names if kinds.kind(att_models[n]) == k),
                            ]
                            for t, k, own in ATTENTION_EXAMPLES
                            if any(kinds.kind(m) == k for m in att_models.values())
                        ]
                        if att_examples:
                            gr.Examples(
                                att_examples,
                                [att_text, att_model],
                                label="Examples (click to fill in, then Show attention)",
                                api_visibility=PRIVATE,
                            )

                    with gr.Tab("LSTM gates", id="inside_gates", elem_id="inside-gates"):
                        lstm_names = list(h.inside_models((kinds.LSTM,)))
                        gr.Markdown(
                            "The character LSTM's gates, character by character: the **forget** gate keeps the cell's "
                            "memory (1) or wipes it (0), the **input** gate writes the new character in, the "
                            "**output** gate lets the cell show. Below the text, coloured by the cells whose state "
                            "follows the text's layout best (Karpathy, Johnson and Fei-Fei, 2015: red where the cell's "
                            "state is above its mean, blue below): position in the line, the line's end coming, the "
                            "speech's length so far, being inside quotes."
                            + ("" if lstm_names else "\n\n**No LSTM language model is loaded on this server.**")
                        )
                        gates_text = gr.Textbox(value=GATES_EXAMPLE, lines=6, label="Text")
                        with gr.Row():
                            gates_model = gr.Dropdown(
                                lstm_names, value=next(iter(lstm_names), None), label="Model", scale=2
                            )
                            gates_btn = gr.Button("Show gates", variant="primary", scale=1)
                        gates_strips = gr.HTML("")
                        gates_plot = gr.Plot(label="gates (units × characters)", show_label=False)
                        gates_btn.click(
                            _gates_ui(h),
                            [gates_text, gates_model],
                            [gates_strips, gates_plot],
                            api_name="ui_gates",
                            api_visibility=PRIVATE,
                        )

            # ---------------- About
            with gr.Tab("About", id="about"):
                if registry.notices:
                    gr.Markdown("### Notices\n" + "\n".join(f"- {n}" for n in registry.notices))
                gr.Markdown(
                    "### Models\n"
                    + "\n".join(f"- {_model_info(n, m)}" for n, m in registry.lms.items())
                    + "".join(f"\n- **{n}**: BERT (masked LM + next sentence)" for n in registry.berts)
                    + (
                        f"\n- **{getattr(registry.classifier, 'name', 'sentiment')}**: sentiment classifier "
                        f"({getattr(getattr(registry.classifier, 'config', None), 'arch', '?')})"
                        if registry.classifier is not None
                        else ""
                    )
                    + "".join(
                        f"\n- **{n}**: translator, {_translator_info(t.config)}"
                        for n, t in registry.translators.items()
                    )
                    + "".join(
                        f"\n- **{n}**: ELMo (bidirectional LSTM LM, {kinds.layers(e)} layers, vectors of "
                        f"{kinds.width(e)})"
                        for n, e in registry.encoders.items()
                    )
                )
                cards = list(registry.lms.items())
                cards += list(registry.berts.items())
                if registry.classifier is not None:
                    cards.append((getattr(registry.classifier, "name", "sentiment"), registry.classifier))
                cards += list(registry.translators.items())
                cards += list(registry.encoders.items())
                for i, (name, model) in enumerate(cards):
                    with gr.Accordion(f"Model card: {name}", open=i == 0):
                        gr.Markdown(_card_markdown(getattr(model, "card", "") or f"# {name}"))
                        curve = _loss_curve(model)
                        if curve:
                            gr.Image(
                                curve,
                                label=f"{name}: loss curve",
                                show_label=True,
                                interactive=False,
                                height=320,
                                buttons=[],
                            )
                gr.Markdown(_limits_markdown(registry))
                gr.Markdown(
                    "### API\nThe endpoints `/chat`, `/generate`, `/fill_mask`, `/next_sentence`, "
                    "`/classify`, `/translate`, `/embed` (`text`, `model`, `layer`: one vector per token) and "
                    "`/attention` (`text`, `model`: every layer's and head's map) "
                    "can be called with `gradio_client`: see *Use via API* at the bottom of the page."
                )
    return demo


class BodyLimit:
    """ASGI middleware: refuse HTTP request bodies over `max_bytes` with 413 and a JSON message: by the
    Content-Length header at once (the body is never read), or, for a chunked body without one, as soon as the
    bytes read pass the limit (such a body is read here, at most `max_bytes` of it, and then handed on)."""

    def __init__(self, app, max_bytes: int = MAX_REQUEST_BYTES):
        self.app, self.max_bytes = app, max_bytes

    async def _refuse(self, send, size: str) -> None:
        body = json.dumps(
            {
                "error": f"Request body too large: {size} bytes, the limit is {self.max_bytes:,} bytes "
                f"(text inputs take at most {handlers.MAX_TEXT_CHARS:,} characters)"
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:  # the server reads no more than Content-Length bytes
            if length.isdigit() and int(length) > self.max_bytes:
                return await self._refuse(send, f"{int(length):,}")
            return await self.app(scope, receive, send)
        if scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self._refuse(send, f"over {self.max_bytes:,}")
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def launch(demo: gr.Blocks, server_name: str | None = None, server_port: int | None = None):
    """Start the server with the bounded queue. Host and port default to GRADIO_SERVER_NAME / _PORT."""
    from starlette.middleware import Middleware

    demo.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=CONCURRENCY_LIMIT)
    return demo.launch(
        server_name=server_name,
        server_port=server_port,
        ssr_mode=False,
        prevent_thread_lock=True,
        theme=gr.themes.Soft(),
        css=CSS,
        footer_links=["api", "gradio"],
        quiet=True,
        max_threads=MAX_THREADS,
        max_file_size=MAX_UPLOAD,
        app_kwargs={"middleware": [Middleware(BodyLimit, max_bytes=MAX_REQUEST_BYTES)]},
    )
