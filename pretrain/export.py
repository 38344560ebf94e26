"""Export to Hugging Face transformers: `python -m pretrain.export --model bert --out HFDIR`.

Writes config.json, model.safetensors (BertForPreTraining names, written with numpy: torch is not needed) and the
BertTokenizer files; the last stdout line is one JSON object ({"out": ..., "files": [...]}).
The keras layers map one to one onto HF's post-LayerNorm BertLayer; Keras kernels are
[in, out] and torch Linear weights [out, in], hence the transposes. The MLM decoder is tied to the word
embeddings, so it is not stored.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from core import cli, files


def hf_state_dict(model) -> dict[str, np.ndarray]:
    from pretrain.model import encoder_parts

    H = model.config.hidden_size
    w = lambda v: np.asarray(v, np.float32)  # noqa: E731
    lin = lambda layer, name: {f"{name}.weight": w(layer.kernel).T.copy(), f"{name}.bias": w(layer.bias)}  # noqa: E731
    ln = lambda layer, name: {f"{name}.weight": w(layer.gamma), f"{name}.bias": w(layer.beta)}  # noqa: E731
    sd = {
        "bert.embeddings.word_embeddings.weight": w(model.token_embedding.embeddings),
        "bert.embeddings.position_embeddings.weight": w(model.position_embedding.position_embeddings),
        "bert.embeddings.token_type_embeddings.weight": w(model.segment_embedding.embeddings),
        **ln(model.embeddings_norm, "bert.embeddings.LayerNorm"),
    }
    for i, block in enumerate(model.blocks):
        p = f"bert.encoder.layer.{i}"
        part = encoder_parts(block)
        att = part.attention
        for name, dense in (("query", att.query_dense), ("key", att.key_dense), ("value", att.value_dense)):
            sd[f"{p}.attention.self.{name}.weight"] = w(dense.kernel).reshape(H, H).T.copy()  # (H, heads, dim)
            sd[f"{p}.attention.self.{name}.bias"] = w(dense.bias).reshape(H)
        sd[f"{p}.attention.output.dense.weight"] = w(att.output_dense.kernel).reshape(H, H).T.copy()
        sd[f"{p}.attention.output.dense.bias"] = w(att.output_dense.bias)
        sd.update(ln(part.attention_norm, f"{p}.attention.output.LayerNorm"))
        sd.update(lin(part.intermediate, f"{p}.intermediate.dense"))
        sd.update(lin(part.output, f"{p}.output.dense"))
        sd.update(ln(part.output_norm, f"{p}.output.LayerNorm"))
    sd.update(lin(model.pooler, "bert.pooler.dense"))
    sd.update(lin(model.mlm_dense, "cls.predictions.transform.dense"))
    sd.update(ln(model.mlm_norm, "cls.predictions.transform.LayerNorm"))
    sd["cls.predictions.bias"] = w(model.mlm_bias)
    sd.update(lin(model.nsp_dense, "cls.seq_relationship"))
    return {k: np.ascontiguousarray(v) for k, v in sd.items()}


def hf_config(c) -> dict:
    return {
        "architectures": ["BertForPreTraining"],
        "model_type": "bert",
        "vocab_size": c.vocab_size,
        "hidden_size": c.hidden_size,
        "num_hidden_layers": c.num_layers,
        "num_attention_heads": c.num_heads,
        "intermediate_size": c.intermediate_size,
        "hidden_act": "gelu",
        "hidden_dropout_prob": c.dropout,
        "attention_probs_dropout_prob": c.dropout,
        "max_position_embeddings": c.max_positions,
        "type_vocab_size": c.type_vocab_size,
        "initializer_range": c.initializer_range,
        "layer_norm_eps": c.layer_norm_epsilon,
        "pad_token_id": 0,
        "tie_word_embeddings": True,
        "position_embedding_type": "absolute",
    }


def export(bert, out: str) -> list[str]:
    """Write the transformers folder `out`; returns the names of the files written."""
    from safetensors.numpy import save_file

    os.makedirs(out, exist_ok=True)
    weights = os.path.join(out, "model.safetensors")
    files.check_space(out, int(files.weights_bytes(bert.model) * 1.2), "model.safetensors")
    with files.atomic(weights) as tmp:
        save_file(hf_state_dict(bert.model), tmp, metadata={"format": "pt"})
    files.write_json(os.path.join(out, "config.json"), hf_config(bert.config))
    with open(os.path.join(bert.folder, "vocab.txt"), encoding="utf-8") as f:
        files.write_text(os.path.join(out, "vocab.txt"), f.read())
    specials = {
        "unk_token": "[UNK]",
        "sep_token": "[SEP]",
        "pad_token": "[PAD]",
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
    }
    files.write_json(
        os.path.join(out, "tokenizer_config.json"),
        {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": True,
            "strip_accents": None,
            "tokenize_chinese_chars": True,
            "model_max_length": bert.config.max_positions,
            **specials,
        },
    )
    files.write_json(os.path.join(out, "special_tokens_map.json"), specials)
    written = ["config.json", "model.safetensors", "special_tokens_map.json", "tokenizer_config.json", "vocab.txt"]
    if bert.card:
        from huggingface_hub import ModelCard

        card = ModelCard(bert.card)
        card.data.library_name = "transformers"  # the same card, now for the transformers folder
        files.write_text(os.path.join(out, "README.md"), str(card))
        written.append("README.md")
    return written


def main(argv=None) -> int:
    p = cli.parser("python -m pretrain.export", __doc__)
    p.add_argument("--model", default="bert", help="bundled name, folder or Hugging Face repo id")
    p.add_argument("--out", required=True, help="folder for the transformers model")

    def work(a):
        from pretrain.api import load

        written = export(load(a.model), a.out)
        print(
            f"wrote {a.out}: load it with transformers.BertForPreTraining.from_pretrained({a.out!r})", file=sys.stderr
        )
        return {"out": a.out, "files": written}

    return cli.run(p, argv, work)


if __name__ == "__main__":
    sys.exit(main())
