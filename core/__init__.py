"""SeqLab's shared core: the plumbing every trainer uses, written once.

    files       atomic writes (bytes, text, JSON; fsync; one temp naming) and the disk-space check
    checkpoint  one checkpoint format: weights, optimizer, RNG, state; a pointer; resume
    resolve     a bundled name | a folder | a Hugging Face Hub repo id -> a local folder, one error type
    optim       one AdamW factory and saveable warm-up schedules (cosine or linear decay)
    budget      one `--steps N | --minutes M` budget
    card        one model-card writer (huggingface_hub.ModelCard) and one loss-curve plotter
    cli         one command-line convention: argument errors before any work, `error: ...` exit 2, a JSON last line
    logs        TensorBoard scalars (absent on JAX-only machines)

Nothing here imports lm, pretrain, classify or translate: they import it.
"""
