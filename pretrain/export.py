"""Export to Hugging Face transformers: `python -m pretrain.export --model bert --out HFDIR`.

Writes config.json, model.safetensors (BertForPreTraining names, written with numpy: torch is not needed) and the
BertTokenizer files. The keras layers map one to one onto HF's post-LayerNorm BertLayer; Keras kernels are
[in, out] and torch Linear weights [out, in], hence the transposes. The MLM decoder is tied to the word
embeddings, so it is not stored.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def hf_state_dict(model) -> dict[str, np.ndarray]:
    c = model.config
    H = c.hidden_size
    w = lambda v: np.asarray(v, np.float32)  # noqa: E731
    lin = lambda layer, name: {f"{name}.weight": w(layer.kernel).reshape(-1, layer.kernel.shape[-1]).T.copy()  # noqa
                               if len(layer.kernel.shape) == 2 else None, f"{name}.bias": w(layer.bias)}
    ln = lambda layer, name: {f"{name}.weight": w(layer.gamma), f"{name}.bias": w(layer.beta)}  # noqa: E731
    sd = {"bert.embeddings.word_embeddings.weight": w(model.token_embedding.embeddings),
          "bert.embeddings.position_embeddings.weight": w(model.position_embedding.position_embeddings),
          "bert.embeddings.token_type_embeddings.weight": w(model.segment_embedding.embeddings),
          **ln(model.embeddings_norm, "bert.embeddings.LayerNorm")}
    for i, block in enumerate(model.blocks):
        p = f"bert.encoder.layer.{i}"
        att = block._self_attention_layer
        for name, dense in (("query", att._query_dense), ("key", att._key_dense), ("value", att._value_dense)):
            sd[f"{p}.attention.self.{name}.weight"] = w(dense.kernel).reshape(H, H).T.copy()  # (H, heads, dim)
            sd[f"{p}.attention.self.{name}.bias"] = w(dense.bias).reshape(H)
        sd[f"{p}.attention.output.dense.weight"] = w(att._output_dense.kernel).reshape(H, H).T.copy()
        sd[f"{p}.attention.output.dense.bias"] = w(att._output_dense.bias)
        sd.update(ln(block._self_attention_layer_norm, f"{p}.attention.output.LayerNorm"))
        sd.update(lin(block._feedforward_intermediate_dense, f"{p}.intermediate.dense"))
        sd.update(lin(block._feedforward_output_dense, f"{p}.output.dense"))
        sd.update(ln(block._feedforward_layer_norm, f"{p}.output.LayerNorm"))
    sd.update(lin(model.pooler, "bert.pooler.dense"))
    sd.update(lin(model.mlm_dense, "cls.predictions.transform.dense"))
    sd.update(ln(model.mlm_norm, "cls.predictions.transform.LayerNorm"))
    sd["cls.predictions.bias"] = w(model.mlm_bias)
    sd.update(lin(model.nsp_dense, "cls.seq_relationship"))
    return {k: np.ascontiguousarray(v) for k, v in sd.items()}


def hf_config(c) -> dict:
    return {"architectures": ["BertForPreTraining"], "model_type": "bert", "vocab_size": c.vocab_size,
            "hidden_size": c.hidden_size, "num_hidden_layers": c.num_layers, "num_attention_heads": c.num_heads,
            "intermediate_size": c.intermediate_size, "hidden_act": "gelu", "hidden_dropout_prob": c.dropout,
            "attention_probs_dropout_prob": c.dropout, "max_position_embeddings": c.max_positions,
            "type_vocab_size": c.type_vocab_size, "initializer_range": c.initializer_range,
            "layer_norm_eps": c.layer_norm_epsilon, "pad_token_id": 0, "tie_word_embeddings": True,
            "position_embedding_type": "absolute"}


def export(bert, out: str) -> str:
    from safetensors.numpy import save_file

    os.makedirs(out, exist_ok=True)
    save_file(hf_state_dict(bert.model), os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(hf_config(bert.config), f, indent=2)
    shutil.copyfile(os.path.join(bert.folder, "vocab.txt"), os.path.join(out, "vocab.txt"))
    specials = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                "mask_token": "[MASK]"}
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "strip_accents": None,
                   "tokenize_chinese_chars": True, "model_max_length": bert.config.max_positions, **specials}, f,
                  indent=2)
    with open(os.path.join(out, "special_tokens_map.json"), "w") as f:
        json.dump(specials, f, indent=2)
    if bert.card:
        with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
            f.write(bert.card.replace("library_name: keras", "library_name: transformers"))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m pretrain.export", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="bert", help="bundled name, folder or Hugging Face repo id")
    p.add_argument("--out", required=True, help="folder for the transformers model")
    a = p.parse_args(argv)
    try:
        from pretrain.api import load
        export(load(a.model), a.out)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {a.out}: load it with transformers.BertForPreTraining.from_pretrained({a.out!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
