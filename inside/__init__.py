"""Look inside the models the app serves: plain computations over loaded models (numpy arrays and plain lists
out, no drawing) that the app's Inside tab draws and its /embed and /attention endpoints return.

inside.kinds      what a loaded model is (ELMo, BERT, Transformer or LSTM LM), its layers, heads, tokens
inside.vectors    a text's vectors at one layer (`embed`) and its words' vectors (`word_vectors`, `form`)
inside.attention  a text's attention maps [layers][heads][T][T] (`attention`), and what a token attends to most
inside.contexts   one word in 2 to 6 sentences: a cosine-similarity matrix per representation (`compare`)
inside.reference  a fixed reference set of sentences, embedded once per model: the nearest words to a vector
inside.cells      an LSTM LM's gates over a text and the cells that track its layout, Karpathy-style

    import pretrain
    from inside import vectors
    bert = pretrain.load("bert")
    out = vectors.embed(bert, "the river bank", layer=0)
    out["tokens"]           # ['[CLS]', 'the', 'river', 'bank', '[SEP]']
    len(out["vectors"][3])  # 224: one vector per token, plain floats

Models are duck-typed (inside.kinds.kind): an lm.bilm.BiLanguageModel (ELMo), a pretrain.api.Pretrained (BERT) or
an lm.generate.LanguageModel; the tensors stay inside `lm` and `pretrain`, whose plain APIs this package calls.
"""
