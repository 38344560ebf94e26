"""SeqLab's Gradio app (the Hugging Face Space): chat, generate, fill-mask, sentence-pair, classify, translate and
a look inside the models (contextual embeddings, attention maps, LSTM gates: drawn from the `inside` package).

space.models    load the models once at start-up and warm them: a Registry
space.handlers  Handlers(registry): input validation and calls into `lm` / `pretrain` / `classify` /
                `translate` / `inside` (its methods are the public API)
space.chat      chat as play dialogue: the prompt within the context, the end of a reply (plain text)
space.plots     the pictures (matplotlib): attention, similarity and gates heatmaps
space.ui        build(registry): the gr.Blocks layout and the public API endpoints
space.inside_tab  the Inside tab (contexts, attention maps, LSTM gates)
space.examples  each tab's examples
space.server    launch(demo): the bounded queue and the request-size guard (BodyLimit)
space.deploy    `python -m space.deploy --repo USER/SPACE [--dry-run]`
"""
