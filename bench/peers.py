"""The same benchmarks on Hugging Face transformers + PyTorch (CPU), for a same-machine, same-run comparison.

    python -m bench.peers lm_generate --layers 4 --heads 4 --dim 128 --vocab 65 --new-tokens 200
    python -m bench.peers lm_train --layers 4 --heads 4 --dim 128 --seq 64 --batch 12 --vocab 65 --steps 20
    python -m bench.peers bert_train --layers 2 --heads 2 --dim 128 --seq 128 --batch 32 --vocab 8192 --steps 10

lm_generate: GPT2LMHeadModel (random weights, n_positions = --seq) at batch 1 (or a static --batch),
  generate(use_cache=True, do_sample=True, top_k=50) of exactly --new-tokens tokens after a --prompt-tokens prompt.
  tokens_per_s = new tokens (all rows) / wall time of the generate call (prefill included), as bench.lm_generate's;
  first_token_ms = generate(max_new_tokens=1); compile_s = the first (warm-up) call, eager PyTorch compiles nothing.
lm_train: GPT2LMHeadModel in train mode (dropout 0.1), labels = inputs, torch.optim.AdamW(lr 1e-3,
  weight_decay 0.01), clip_grad_norm_(1.0); tokens_per_s = batch * seq * steps / time.
bert_train: BertForPreTraining (intermediate 4 x dim, GELU, dropout 0.1) with MLM labels at the same 15% masked
  positions (-100 elsewhere) and NSP labels, AdamW + clipping; seqs_per_s. Note that Hugging Face computes the MLM
  logits at every position (B x L x V), SeqLab only at the masked ones (B x 20 x V).
Prints one JSON line (last line of stdout) with the same fields as the SeqLab benchmark.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.common import Timer, emit, machine, median


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="bench", required=True)

    def common(s, layers, heads, dim, vocab, seq):
        s.add_argument("--layers", type=int, default=layers)
        s.add_argument("--heads", type=int, default=heads)
        s.add_argument("--dim", type=int, default=dim)
        s.add_argument("--vocab", type=int, default=vocab)
        s.add_argument("--seq", type=int, default=seq)
        s.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: PyTorch's default)")
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--arch", default="transformer", choices=["transformer"], help="accepted for symmetry")

    g = sub.add_parser("lm_generate", help="GPT-2 generate(use_cache=True, do_sample=True, top_k=50), batch 1")
    common(g, 4, 4, 128, 65, 256)
    g.add_argument("--new-tokens", type=int, default=200)
    g.add_argument("--prompt-tokens", type=int, default=16)
    g.add_argument("--top-k", type=int, default=50)
    g.add_argument("--repeats", type=int, default=3)
    g.add_argument("--no-cache", action="store_true")
    g.add_argument("--batch", type=int, default=1, help="a static batch of this many prompts (tokens/s counts all)")

    t = sub.add_parser("lm_train", help="GPT-2 training steps with AdamW")
    common(t, 4, 4, 128, 65, 64)
    t.add_argument("--batch", type=int, default=12)
    t.add_argument("--steps", type=int, default=20)
    t.add_argument("--warmup-steps", type=int, default=2)

    b = sub.add_parser("bert_train", help="BertForPreTraining MLM+NSP steps with AdamW")
    common(b, 2, 2, 128, 8192, 128)
    b.add_argument("--batch", type=int, default=32)
    b.add_argument("--steps", type=int, default=10)
    b.add_argument("--warmup-steps", type=int, default=2)
    b.add_argument("--max-predictions", type=int, default=20)
    b.add_argument("--mask-rate", type=float, default=0.15)
    return p.parse_args(argv)


def _torch(args):
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    return torch


def _versions():
    import torch
    import transformers

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def _gpt2(args):
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=args.vocab,
        n_positions=args.seq,
        n_embd=args.dim,
        n_layer=args.layers,
        n_head=args.heads,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )
    return GPT2LMHeadModel(config)


def lm_generate(args) -> dict:
    torch = _torch(args)
    model = _gpt2(args).eval()
    gen = torch.Generator().manual_seed(args.seed)
    prompt = torch.randint(1, args.vocab, (args.batch, args.prompt_tokens), generator=gen)
    mask = torch.ones_like(prompt)
    kwargs = dict(attention_mask=mask, do_sample=True, top_k=args.top_k, use_cache=not args.no_cache, pad_token_id=0)

    def generate(n):
        start = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(prompt, max_new_tokens=n, min_new_tokens=n, **kwargs)
        seconds = time.perf_counter() - start
        assert out.shape[1] == prompt.shape[1] + n, out.shape
        return seconds

    with Timer() as first_call:
        generate(3)
    generate(3)
    totals = [generate(args.new_tokens) for _ in range(args.repeats)]
    firsts = [generate(1) for _ in range(max(3, args.repeats))]
    return {
        "bench": "lm_generate",
        "impl": "transformers-gpt2",
        "backend": "torch",
        "use_cache": not args.no_cache,
        "layers": args.layers,
        "heads": args.heads,
        "dim": args.dim,
        "vocab": args.vocab,
        "context": args.seq,
        "params": sum(p.numel() for p in model.parameters()),
        "new_tokens": args.new_tokens,
        "prompt_tokens": args.prompt_tokens,
        "top_k": args.top_k,
        "batch": args.batch,
        "tokens_per_s": round(args.batch * args.new_tokens / median(totals), 2),
        "first_token_ms": round(median(firsts) * 1e3, 2),
        "compile_s": round(first_call.seconds, 3),
        "repeats": args.repeats,
        **_versions(),
        "machine": machine(),
    }


def _train_loop(torch, model, batches, steps, warmup_steps, loss_of):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)

    def step(batch):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_of(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return float(loss.detach())

    model.train()
    with Timer() as first:
        step(batches[0])
    for i in range(warmup_steps):
        step(batches[(i + 1) % len(batches)])
    times, loss = [], float("nan")
    start = time.perf_counter()
    for i in range(steps):
        t = time.perf_counter()
        loss = step(batches[i % len(batches)])
        times.append(time.perf_counter() - t)
    return first.seconds, times, time.perf_counter() - start, loss


def lm_train(args) -> dict:
    torch = _torch(args)
    model = _gpt2(args)
    gen = torch.Generator().manual_seed(args.seed)
    batches = [torch.randint(0, args.vocab, (args.batch, args.seq), generator=gen) for _ in range(4)]
    compile_s, times, elapsed, loss = _train_loop(
        torch, model, batches, args.steps, args.warmup_steps, lambda b: model(input_ids=b, labels=b).loss
    )
    return {
        "bench": "lm_train",
        "impl": "transformers-gpt2",
        "backend": "torch",
        "layers": args.layers,
        "heads": args.heads,
        "dim": args.dim,
        "vocab": args.vocab,
        "seq": args.seq,
        "batch": args.batch,
        "steps": args.steps,
        "params": sum(p.numel() for p in model.parameters()),
        "tokens_per_s": round(args.batch * args.seq * args.steps / elapsed, 1),
        "step_ms": round(median(times) * 1e3, 2),
        # the fastest step: what the machine gives without its other users (a shared machine's load moves)
        "step_ms_min": round(min(times) * 1e3, 2),
        "compile_s": round(compile_s, 3),
        "loss_last": round(loss, 4),
        **_versions(),
        "machine": machine(),
    }


def bert_train(args) -> dict:
    torch = _torch(args)
    import numpy as np
    from transformers import BertConfig, BertForPreTraining

    from bench.bert_data import hf_labels, mlm_batch

    config = BertConfig(
        vocab_size=args.vocab,
        hidden_size=args.dim,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        intermediate_size=4 * args.dim,
        max_position_embeddings=max(512, args.seq),
    )
    model = BertForPreTraining(config)
    rng = np.random.default_rng(args.seed)
    batches = []
    for _ in range(4):
        x, y, w = mlm_batch(rng, args.batch, args.seq, args.vocab, args.mask_rate, args.max_predictions)
        batches.append(
            {
                "input_ids": torch.from_numpy(x["token_ids"].astype(np.int64)),
                "token_type_ids": torch.from_numpy(x["segment_ids"].astype(np.int64)),
                "attention_mask": torch.from_numpy(x["padding_mask"].astype(np.int64)),
                "labels": torch.from_numpy(hf_labels(x, y, w, args.seq)),
                "next_sentence_label": torch.from_numpy(y["nsp"].astype(np.int64)),
            }
        )
    compile_s, times, elapsed, loss = _train_loop(
        torch, model, batches, args.steps, args.warmup_steps, lambda b: model(**b).loss
    )
    return {
        "bench": "bert_train",
        "impl": "transformers-bert",
        "backend": "torch",
        "precision": "fp32",
        "layers": args.layers,
        "heads": args.heads,
        "dim": args.dim,
        "vocab": args.vocab,
        "seq": args.seq,
        "batch": args.batch,
        "steps": args.steps,
        "max_predictions": args.max_predictions,
        "params": sum(p.numel() for p in model.parameters()),
        "seqs_per_s": round(args.batch * args.steps / elapsed, 2),
        "tokens_per_s": round(args.batch * args.seq * args.steps / elapsed, 1),
        "step_ms": round(median(times) * 1e3, 2),
        # the fastest step: what the machine gives without its other users (a shared machine's load moves)
        "step_ms_min": round(min(times) * 1e3, 2),
        "compile_s": round(compile_s, 3),
        "loss_last": round(loss, 4),
        **_versions(),
        "machine": machine(),
    }


def main(argv=None) -> int:
    args = parse(argv)
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:
        print(f"error: the peer benchmarks need torch and transformers ({e})", file=sys.stderr)
        return 3
    emit({"lm_generate": lm_generate, "lm_train": lm_train, "bert_train": bert_train}[args.bench](args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
