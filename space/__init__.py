"""SeqLab's Gradio app (the Hugging Face Space): chat, generate, fill-mask, sentence-pair and classify demos.

    space.models    load the models once at start-up and warm them
    space.handlers  plain functions: input validation and calls into `lm` / `pretrain` (also the public API)
    space.ui        the gr.Blocks layout and the public API endpoints
    space.deploy    `python -m space.deploy --repo USER/SPACE [--dry-run]`
"""
