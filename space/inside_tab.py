"""The Inside tab: the same word's vectors in different sentences (Contexts), attention maps (Attention) and the
character LSTM's gates and cells (LSTM gates), each drawn from what the `inside` package computes through
space.handlers. space.ui places it among the other tabs with `inside_tab(h, registry)`.
"""

import html

import gradio as gr

from inside import kinds
from inside.contexts import MAX_SENTENCES, MIN_SENTENCES, representations
from space import handlers
from space.examples import ATTENTION_EXAMPLES, CONTEXT_EXAMPLES, GATES_EXAMPLE
from space.models import Registry

PRIVATE = "private"  # UI events stay out of the public API (space.ui.API)
MEAN_HEADS = "mean of the heads"  # the Attention view's and the Translate tab's head choice
STRIPS = 4  # cells shown as coloured text in the LSTM gates view


def number_in(choice, top: int) -> int:
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
        index = number_in(layer, layers) - 1
        pick = None if head in (None, "", MEAN_HEADS) else number_in(head, heads) - 1
        weights = maps.map(index, pick)
        title = f"{name}: layer {index + 1}, " + ("mean of the heads" if pick is None else f"head {pick + 1}")
        # a causal map's first rows have one or two keys, so weights near 1: colour by the rows after them
        rest = weights[4:] if maps.causal and len(weights) > 8 else weights
        plot = attention_heatmap(weights, maps.tokens, maps.tokens, title, vmax=float(rest.max()))
        return plot, _attention_note(name, maps.tokens, weights, maps.causal)

    return attention_ui


def _attention_choices(h: handlers.Handlers, models: dict):
    """The Attention view's layer and head choices for a model (its own layers and heads; a live name's too)."""

    def choices(model):
        m = models.get(model)
        if m is None and model:
            try:
                m = h.inside_model(model, (kinds.TRANSFORMER, kinds.BERT))
            except gr.Error:
                m = None  # the attention call itself says what is wrong with the name
        layers, heads = (kinds.layers(m), kinds.heads(m)) if m is not None else (1, 1)
        return (
            gr.Dropdown(choices=[f"layer {i}" for i in range(1, layers + 1)], value=f"layer {layers}"),
            gr.Dropdown(choices=[MEAN_HEADS] + [f"head {i}" for i in range(1, heads + 1)], value=MEAN_HEADS),
        )

    return choices


def _contexts_ui(h: handlers.Handlers, slots: int):
    """The Contexts view's event over `h`: a similarity heatmap per representation at once, then the nearest
    reference words (read from the vectors stored with the models; a model without them embeds the reference
    sentences once: some seconds)."""
    from space.plots import similarity_heatmap

    def contexts_ui(word, sentences):
        c = h.contexts(word, sentences)
        labels = [str(i + 1) for i in range(len(c.sentences))]
        plots = [
            similarity_heatmap(r.matrix, labels, r.label, separation_note(r.separation)) for r in c.representations
        ]
        plots += [None] * (slots - len(plots))
        legend = "\n".join(
            f"{i + 1}. {f'*({sense})* ' if sense else ''}{s}" for i, (s, sense) in enumerate(zip(c.sentences, c.senses))
        )
        apart = [f"{r.label} **{r.separation:+.2f}**" for r in c.representations if r.separation is not None]
        if apart:  # the numbers under the heatmaps, as text too
            legend += "\n\nSame sense − other sense (above 0: the senses come apart): " + " · ".join(apart)
        ref = h.reference()
        if ref is not None and not all(ref.ready(r.model) for r in c.representations):
            wait = [["", "", f"embedding the {len(ref)} reference sentences once for each model…"]]
            yield *plots, legend, wait
        yield *plots, legend, h.nearest(c) or [["", "", "no reference set on this server"]]

    return contexts_ui


def separation_note(value: float | None) -> str:
    """The number under a Contexts heatmap: how far apart the labelled senses are."""
    return "" if value is None else f"same sense − other sense: {value:+.2f}"


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
                f"u{cell.unit} below), r = {cell.correlation:+.2f} over this text"
                + (" (the cell found on held-out plays)" if cell.held_out else " (the best over this text)")
                + "</p>"
                + _strip_html(view.tokens, cell.values)
            )
        strips = "".join(parts) or "<p>Type a few lines to find cells that track them.</p>"
        cut = "" if shown == len(view.tokens) else f", first {shown} of {len(view.tokens)} characters"
        plot = gates_heatmap(
            {g: a[:, :shown] for g, a in view.gates.items()}, view.rows, view.tokens[:shown], f"gates{cut}"
        )
        return strips, plot

    return gates_ui


def inside_tab(h: handlers.Handlers, registry: Registry) -> None:
    """The Inside tab and its three views, placed in the caller's gr.Tabs."""
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
                    "A word in different sentences: how alike are its vectors? The similarity is the cosine "
                    "after taking away each layer's mean vector over the reference sentences (raw cosines of "
                    "these vectors are all near 1: they share one direction). A **static** layer gives the "
                    "word one vector whatever the sentence, so every cell is 1; ELMo's biLSTM layers (and its "
                    "mix, weighted for telling senses apart) and BERT's blocks read the sentence around it, so "
                    "its senses come apart. Start a line with its sense in brackets (`[river] ...`) to get, "
                    "under each heatmap, the mean same-sense minus the mean other-sense similarity (above 0: "
                    "the senses come apart). Below, each occurrence's nearest words among the 270 reference "
                    "sentences (27 ambiguous words, five sentences for each of their two senses: a sense in "
                    "brackets)." + ("" if reps else "\n\n**No ELMo or BERT is loaded on this server.**")
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
                    (t for t, k, _ in ATTENTION_EXAMPLES if att_default and k == kinds.kind(att_models[att_default])),
                    ATTENTION_EXAMPLES[0][0],
                )
                att_text = gr.Textbox(value=first, lines=2, label="Text")
                layers_0 = kinds.layers(att_models[att_default]) if att_default else 1
                heads_0 = kinds.heads(att_models[att_default]) if att_default else 1
                with gr.Row():
                    att_model = gr.Dropdown(att_names, value=att_default, label="Model", allow_custom_value=True)
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
                    _attention_choices(h, att_models),
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
                        own if own in att_models else next(n for n in att_names if kinds.kind(att_models[n]) == k),
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
                        lstm_names, value=next(iter(lstm_names), None), label="Model", scale=2, allow_custom_value=True
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
