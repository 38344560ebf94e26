"""The Train tab: pretrain a small BERT (MLM + NSP), or race an LSTM against a Transformer, on a text of the
visitor's choice for 10 to 120 seconds, and watch it learn: curves against the baselines, the data as the model
sees it, a probe, and the result kept under a live name (and as a zip). space.ui mounts it with
`train_tab(lh, targets)`; the job itself is live/ (through space.live_handlers).
"""

from __future__ import annotations

import html
import time

import gradio as gr

from live.inputs import CORPORA, MAX_SECONDS, MIN_SECONDS
from space.live_handlers import BUNDLED, PASTE, PROBES, UPLOAD, LiveHandlers

PRIVATE = "private"
PLOT_SECONDS = 2.0  # curves are redrawn at most this often (matplotlib costs the app's cores)
MARKS = {"mask": "#f4a261", "random": "#e76f51", "kept": "#2a9d8f"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _series(rows: list, key: str):
    points = [(r["seconds"], r[key]) for r in rows if key in r]
    return [p[0] for p in points], [p[1] for p in points]


def curves(state: dict):
    """Loss against seconds on training and held-out batches, the baselines as lines (LM: both models)."""
    plt = _pyplot()
    bert = state["kind"] == "bert"
    fig, axes = plt.subplots(1, 2 if bert else 1, figsize=(6.5, 3.0), squeeze=False)
    panels = [("mlm_loss", "MLM loss"), ("nsp_loss", "NSP loss")] if bert else [("loss", "loss (nats/char)")]
    for ax, (key, title) in zip(axes[0], panels):
        for name, rows in state["history"].items():
            who = "" if bert else name.split("-")[1] + " "
            for prefix, style in (("train_", "-"), ("heldout_", "o-")):
                x, y = _series(rows, prefix + key)
                if x:
                    ax.plot(x, y, style, markersize=3, label=f"{who}{prefix.rstrip('_')}")
        base = next(iter(state["baselines"].values()), {})
        for label, color in (("chance", "grey"), ("unigram", "black")):
            value = base.get(f"{label}_{key}")
            if value is not None:
                ax.axhline(value, color=color, linestyle=":", linewidth=1, label=label)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("seconds of training", fontsize=8)
        ax.tick_params(labelsize=7)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the plot: over no point
    fig.tight_layout()
    return fig


def accuracy(state: dict):
    """BERT's held-out MLM and NSP accuracy, with chance and the most frequent answer as lines."""
    if state["kind"] != "bert":
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(6.5, 2.6), squeeze=False)
    rows = next(iter(state["history"].values()), [])
    base = next(iter(state["baselines"].values()), {})
    for ax, key, title in zip(axes[0], ("mlm_accuracy", "nsp_accuracy"), ("MLM accuracy", "NSP accuracy")):
        for prefix, style in (("train_", "-"), ("heldout_", "o-")):
            x, y = _series(rows, prefix + key)
            if x:
                ax.plot(x, y, style, markersize=3, label=prefix.rstrip("_"))
        for label, color in (("chance", "grey"), ("unigram", "black")):
            value = base.get(f"{label}_{key}")
            if value is not None:
                shown = "most frequent" if label == "unigram" else label
                ax.axhline(value, color=color, linestyle=":", linewidth=1, label=shown)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def status(state: dict) -> str:
    lines = [f"**{state['status']}** · {state['seconds']:.0f} s · {html.escape(state['stage'])}"]
    for name, m in state["metrics"].items():
        if m:
            bits = [f"step {m.get('step', 0)}", f"{m.get('steps_per_second', 0):.1f} steps/s"]
            bits.append(f"{m.get('tokens', 0):,} tokens seen")
            for key in ("heldout_loss", "heldout_mlm_accuracy", "heldout_nsp_accuracy"):
                if key in m:
                    bits.append(f"{key.replace('_', ' ')} {m[key]:.3f}")
            lines.append(f"- `{name}`: " + ", ".join(bits))
    return "\n".join(lines)


def _piece(text: str) -> str:
    return html.escape(text.replace("\n", "⏎").replace(" ", "␣"))


def data_view(state: dict) -> str:
    """The data as the model sees it (HTML): the vocabulary and a pair, or a window and its targets."""
    v = state["views"]
    if "vocabulary" in v:
        voc, pair = v["vocabulary"], v["pair"]
        masked = {m["position"]: m for m in pair["masked"]}
        cells = []
        for i, (piece, seg) in enumerate(zip(pair["pieces"], pair["segments"])):
            m = masked.get(i)
            style = f"background:{MARKS[m['kind']]}" if m else ("background:#e9ecef" if seg else "")
            title = f" title='{m['kind']}: was {html.escape(m['original'])}'" if m else ""
            cells.append(f"<span style='{style}'{title}>{_piece(piece)}<sub>{seg}</sub></span>")
        kinds = ", ".join(f"{m['kind']} ({m['original']}→{m['shown']})" for m in pair["masked"])
        return (
            f"<p><b>WordPiece vocabulary</b>: {voc['size']:,} pieces ({voc['continuations']:,} are ##continuations)"
            f". A sample: {' '.join(html.escape(p) for p in voc['sample'])}</p>"
            f"<p><b>{html.escape(voc['sentence'])}</b> splits as: "
            f"{' · '.join(html.escape(p) for p in voc['pieces'])}</p>"
            f"<p><b>One training pair</b> ({pair['label']}); segment ids as subscripts; masked: "
            f"<span style='background:{MARKS['mask']}'>[MASK] 80%</span> <span style='background:"
            f"{MARKS['random']}'>random 10%</span> <span style='background:{MARKS['kept']}'>kept 10%</span></p>"
            f"<div class='seqlab-strip'>{' '.join(cells)}</div><p>{html.escape(kinds)}</p>"
        )
    if "window" in v:
        w = v["window"]
        return (
            f"<p><b>One training window</b> ({w['length']} characters; the first {len(w['inputs'])} shown) and its "
            "targets, the same shifted by one: each position learns to predict the next character.</p>"
            f"<div class='seqlab-strip'>inputs:  {''.join(_piece(c) for c in w['inputs'])}\n"
            f"targets: {''.join(_piece(c) for c in w['targets'])}</div>"
        )
    return ""


def probe_view(state: dict) -> str:
    lines = []
    for name, p in state["probe"]["answers"].items():
        answer = p["answer"]
        if isinstance(answer, list):
            shown = "; ".join(", ".join(f"{t} {prob:.2f}" for t, prob in guesses) for guesses in answer) or "no [MASK]"
            lines.append(f"- `{name}` on *{html.escape(p['text'])}*: {html.escape(shown)}")
        else:
            lines.append(f"- `{name}`:\n\n```\n{answer}\n```")
    return "\n".join(lines)


def train_tab(lh: LiveHandlers) -> None:
    """The tab, over the live handlers `lh`."""
    with gr.Tab("Train", id="train"):
        gr.Markdown(
            "Pretrain a model here, now, on text you choose, and watch it learn. **bert**: a WordPiece vocabulary "
            "is trained on your text, then a tiny BERT learns masked words (MLM) and whether sentence B follows A "
            "(NSP). In a job of seconds its MLM accuracy rises past the counters', while NSP stays at the "
            "commoner label (a loss of 0.69, a coin toss's): on one corpus, telling whether B follows A takes far "
            "more pairs than two minutes on two cores give. **lm**: an LSTM and a Transformer of the same "
            "parameter count learn to predict the next "
            "character, side by side on the same batches. One job runs at a time on this server (the next ones wait "
            "in a queue, shown with their place); the result is "
            f"kept **{lh.store.minutes:g} minutes** after its last use under a live name: type it as the Model "
            "in Fill-mask or Sentence pair (bert), Generate (lm), the Inside tab's Attention (bert, the "
            "Transformer) and LSTM gates (the LSTM), or the API."
        )
        with gr.Row():
            kind = gr.Radio(["bert", "lm"], value="bert", label="What to train")
            source = gr.Radio([BUNDLED, PASTE, UPLOAD], value=BUNDLED, label="Text")
            corpus = gr.Dropdown(list(CORPORA), value="shakespeare", label="Bundled corpus")
            seconds = gr.Slider(MIN_SECONDS, MAX_SECONDS, value=30, step=5, label="Seconds of training")
        with gr.Row():
            text = gr.Textbox(label="Your text (one sentence a line is best; up to 1 MB)", lines=4)
            upload = gr.File(label="or a .txt file (UTF-8, up to 1 MB)", file_types=[".txt"], type="filepath")
        probe = gr.Textbox(label="Probe (edit it while it trains)", value=PROBES["bert"], elem_id="train-probe")
        with gr.Row():
            start = gr.Button("Start", variant="primary", elem_id="train-start")
            stop = gr.Button("Stop", variant="stop", elem_id="train-stop")
        state_md = gr.Markdown("", elem_id="train-status")
        with gr.Row():
            loss_plot = gr.Plot(label="Loss", show_label=False, elem_id="train-curves")
            acc_plot = gr.Plot(label="Accuracy", show_label=False, elem_id="train-accuracy")
        probe_md = gr.Markdown("")
        data_html = gr.HTML("")
        with gr.Row():
            names = gr.Textbox(label="Live model names", elem_id="train-names", interactive=False)
            download = gr.File(label="The model folders (zip)", file_count="multiple", elem_id="train-download")

        def train_ui(kind, source, corpus, text, upload, seconds, probe):
            request = lh.request(kind, source, corpus, text, upload, seconds, probe)
            drawn, state = 0.0, None
            for state in lh.run(request):
                redraw = time.monotonic() - drawn >= PLOT_SECONDS or state["status"] in ("done", "stopped")
                if redraw:
                    drawn = time.monotonic()
                finished = state["status"] in ("done", "stopped")
                yield (
                    status(state),
                    curves(state) if redraw else gr.skip(),
                    accuracy(state) if redraw else gr.skip(),
                    probe_view(state),
                    data_view(state),
                    ", ".join(state["models"]),
                    [lh.zip(name) for name in state["models"]] if finished else gr.skip(),
                )

        kind.change(
            lambda k: (PROBES[k], gr.Plot(visible=k == "bert")),  # accuracy is BERT's (an LM has its loss only)
            kind,
            [probe, acc_plot],
            api_name="ui_train_kind",
            api_visibility=PRIVATE,
        )
        probe.change(lh.set_probe, [probe, names], None, api_name="ui_train_probe", api_visibility=PRIVATE)
        start.click(
            train_ui,
            [kind, source, corpus, text, upload, seconds, probe],
            [state_md, loss_plot, acc_plot, probe_md, data_html, names, download],
            api_name="ui_train",
            api_visibility=PRIVATE,
            # the job, the queue, and one more to hear "busy" at once from live.Runner (not wait in Gradio's)
            concurrency_limit=lh.runner.jobs + lh.runner.waiting + 1,
        )
        stop.click(lh.stop, names, state_md, api_name="ui_train_stop", api_visibility=PRIVATE)
