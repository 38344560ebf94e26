"""The app's layout (gr.Blocks with one tab per demo) and its public API.

`build(registry)` makes one space.handlers.Handlers over the loaded models and wires its methods to the page:
the public API endpoints are the methods named in `API`; every UI event is private, so `Client.view_api()`
lists exactly these. To add an endpoint, write a typed method in space/handlers.py and name it here. The Inside
tab is space/inside_tab.py, the examples space/examples.py, the queue and `launch` space/server.py.
"""

import os
import re
import time

import gradio as gr

from inside import kinds
from inside.contexts import MAX_SENTENCES, MIN_SENTENCES
from space import chat, defaults, handlers
from space.examples import (
    CHAT_EXAMPLES,
    CLASSIFY_EXAMPLES,
    FILL_MASK_EXAMPLES,
    GENERATE_EXAMPLES,
    PAIR_EXAMPLE_LABELS,
    PAIR_EXAMPLES,
    TRANSLATE_EXAMPLES,
)
from space.inside_tab import MEAN_HEADS, PRIVATE, inside_tab, number_in
from space.models import Registry
from space.server import CONCURRENCY_LIMIT, MAX_REQUEST_BYTES, QUEUE_MAX_SIZE
from space.train_tab import train_tab

# The public API: each api_name is the Handlers method of that name (its argument names are the parameter names)
API = ("chat", "generate", "fill_mask", "next_sentence", "classify", "translate", "embed", "attention", "train")
LIVE_API = ("train",)  # these are space.live_handlers' methods, the rest space.handlers'; every one is public

# With the LM engines on, every streaming request goes straight to its engine (no Gradio limit), which batches
# it with the others or answers "busy" at once (space.server.MAX_THREADS covers its slots and waiting line).
STREAMING = ("chat", "generate")

BERT_NOTE = (
    "Models: **bert-modern** read modern English (the World English Bible, State of the Union speeches, IMDB "
    "reviews, the Brown corpus); **bert** the King James Bible and Shakespeare; **bert-imdb** IMDB reviews."
)


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
        f"- Translate: one text of at most {h.MAX_TEXT_CHARS:,} characters; over the translator's own limit of "
        "subwords (64 for the bundled ones) it is cut at sentence ends (then ; and :, then commas) into runs within "
        f"it (a part with no such break over it is refused); beam 1 to {h.MAX_BEAM}.\n"
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


CARD_WIDTH = 78  # characters of a command line in a card's code block: it wraps there, at a flag


def _wrap_command(line: str, width: int = CARD_WIDTH) -> str:
    """A long shell command as lines of at most ~`width` characters, broken before a flag with a backslash
    continuation (still one command to copy), so no part of it is clipped off a narrow screen."""
    if len(line) <= width:
        return line
    lines, current = [], ""
    for part in re.split(r" (?=--?[A-Za-z])", line):
        if current and len(current) + 1 + len(part) > width:
            lines.append(current + " \\")
            current = "    " + part
        else:
            current = f"{current} {part}" if current else part
    return "\n".join([*lines, current])


def _headerless_tables(card: str) -> str:
    """A table with an empty header row (the cards' "| | |" key-value tables) as a list of "**key**: value"
    lines: Markdown has no header-less table, and an empty header shows as a blank bar over the rows."""

    def as_list(m: re.Match) -> str:
        rows = [[c.strip() for c in row.strip().strip("|").split("|")] for row in m.group(2).strip().splitlines()]
        return "".join(f"- **{r[0]}**: {' | '.join(r[1:])}\n" for r in rows if r and r[0]) + "\n"

    return re.sub(r"^(\|(?:\s*\|)+\s*\n\|(?:\s*:?-+:?\s*\|)+\s*\n)((?:\|.*\|\s*\n?)+)", as_list, card, flags=re.M)


def _card_markdown(card: str) -> str:
    """A model card as the Hub shows it, less what does not fit a narrow tab: no YAML front matter and no relative
    images (shown separately), key-value tables without their empty header, commands wrapped at a flag."""
    card = re.sub(r"\A---\n.*?\n---\n", "", card or "", flags=re.S)
    card = re.sub(r"!\[[^\]]*\]\((?!https?://)[^)]*\)\n?", "", card)
    card = re.sub(
        r"^```[a-z]*\n(.*?)^```",
        lambda m: "```\n" + "\n".join(_wrap_command(x) for x in m.group(1).rstrip("\n").split("\n")) + "\n```",
        card,
        flags=re.M | re.S,
    )
    return _headerless_tables(card).strip()


def _loss_curve(model) -> str | None:
    path = os.path.join(model.folder, "loss_curve.png")
    return path if os.path.exists(path) else None


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
                layers, heads = t.attention.shape[1:3]  # (target, layers, heads, source)
                index = number_in(layer, layers) - 1
                pick = None if head in (None, "", MEAN_HEADS) else number_in(head, heads) - 1
                weights = t.attention_map(layer=index, head=pick)
                title = f"cross-attention, layer {index + 1}, " + (
                    "mean of the heads" if pick is None else f"head {pick + 1}"
                )
            plot = attention_heatmap(weights, t.target_tokens, t.source_tokens, title) if t.target_tokens else None
            score = f"log probability {t.score:.2f} (length-normalised){'' if t.finished else ', cut at the limit'}"
            outputs += [t.text, score, plot]
        return outputs

    return translate_ui


def _translator_info(c) -> str:
    if c.arch == "rnn":
        return f"rnn ({c.cell} + {c.attention} attention)"
    return f"transformer ({c.layers}+{c.layers} layers)"


def _model_info(name, model) -> str:
    c = model.config
    parts = [
        c.arch,
        f"{c.level}-level",
        f"context {model.context_length} tokens",
        f"vocabulary {c.vocab_size}",
    ]
    return f"**{name}**: " + ", ".join(str(p) for p in parts)


# ---------------------------------------------------------------- layout


def build(registry: Registry, runner=None) -> gr.Blocks:
    """The page and its API over the models in `registry`: every handler gets them from here, none looks them up.
    `runner`: the live.Runner of the Train tab (default: a new one); its live models are taken by name too."""
    from live import Runner
    from space.live_handlers import LiveHandlers

    lh = LiveHandlers(runner or Runner())
    h = handlers.Handlers(registry, live=lh.store)
    generate_ui, fill_mask_ui = _generate_ui(h), _fill_mask_ui(h)
    names = list(registry.lms)
    default = registry.default_lm
    side_a = registry.lm_of_arch("lstm") or default
    side_b = registry.lm_of_arch("transformer") or (names[1] if len(names) > 1 else default)
    # top-k slider up to the largest vocabulary (at most 100); the API takes up to each model's vocabulary
    bert_names = list(registry.berts)
    # each tab's first choice: the loaded BERT with the best recorded score on held-out modern text
    mask_bert, pair_bert = (defaults.best_bert(task, bert_names) for task in ("fill_mask", "next_sentence"))
    max_top_k = min(100, max(int(m.config.vocab_size) for m in registry.lms.values()))

    with gr.Blocks(title="SeqLab") as demo:
        # The public API first, so these names are taken before any UI event is named.
        streaming_limit = None if registry.engine_config else CONCURRENCY_LIMIT  # None: the engine decides
        for api_name in API:
            if api_name in LIVE_API:  # the runner answers "queued" or "busy" itself, so Gradio's queue must not hold
                limit = lh.runner.jobs + lh.runner.waiting + 1  # the one request past them, which hears "busy"
                gr.api(getattr(lh, api_name), api_name=api_name, concurrency_limit=limit)
                continue
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
                    f"You speak as **{chat.USER_SPEAKER}**; the model answers as "
                    f"**{chat.MODEL_SPEAKER}**, one speech at a time, as in a play."
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
                            model = gr.Dropdown(names, value=side, label="Model", allow_custom_value=True)
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
                    mask_model = gr.Dropdown(bert_names, value=mask_bert, label="Model", allow_custom_value=True)
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
                    mask_examples or [[FILL_MASK_EXAMPLES[0][0], mask_bert]],
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
                    pair_model = gr.Dropdown(bert_names, value=pair_bert, label="Model", allow_custom_value=True)
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
                    [row for row, _ in pairs] or [PAIR_EXAMPLES[0][:2] + [pair_bert]],
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
                        f"Classifier **{clf.name}** (see the About tab)."
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
                    "Each map shows which source words every output word attended to. They read only the Bible, so "
                    "they answer in its register (*vosotros*, a verse's opening *Y*), and a word it lacks (*train "
                    "station*) becomes a Bible word or an invented one."
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

            # ---------------- Inside (space/inside_tab.py)
            inside_tab(h, registry)

            # ---------------- Train (space/train_tab.py)
            train_tab(lh)

            # ---------------- About
            with gr.Tab("About", id="about"):
                if registry.notices:
                    gr.Markdown("### Notices\n" + "\n".join(f"- {n}" for n in registry.notices))
                gr.Markdown(
                    "### Models\n"
                    + "\n".join(f"- {_model_info(n, m)}" for n, m in registry.lms.items())
                    + "".join(f"\n- **{n}**: BERT (masked LM + next sentence)" for n in registry.berts)
                    + (
                        f"\n- **{registry.classifier.name}**: sentiment classifier ({registry.classifier.config.arch})"
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
                    cards.append((registry.classifier.name, registry.classifier))
                cards += list(registry.translators.items())
                cards += list(registry.encoders.items())
                for i, (name, model) in enumerate(cards):
                    with gr.Accordion(f"Model card: {name}", open=i == 0):
                        gr.Markdown(_card_markdown(model.card or f"# {name}"))
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
                    "`/classify`, `/translate`, `/embed` (`text`, `model`, `layer`: one vector per token), "
                    "`/attention` (`text`, `model`: every layer's and head's map) and `/train` (`kind`, `text`, "
                    "`corpus`, `seconds`: a live pretraining job's progress, streamed) "
                    "can be called with `gradio_client`: see *Use via API* at the bottom of the page."
                )
    return demo
