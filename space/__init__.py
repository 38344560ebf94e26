"""SeqLab's Gradio app (the Hugging Face Space): chat, generate, fill-mask, sentence-pair and classify demos.

space.models    load the models once at start-up and warm them: a Registry
space.handlers  Handlers(registry): input validation and calls into `lm` / `pretrain` / `classify` (its
                methods are the public API); the chat framing as plain functions
space.ui        build(registry): the gr.Blocks layout and the public API endpoints
space.deploy    `python -m space.deploy --repo USER/SPACE [--dry-run]`
"""
