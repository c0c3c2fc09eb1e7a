"""n variants of one request: n sequential calls versus n parallel sequences of one context.

Sequential is what copyforge does now: `create_chat_completion` (`create_completion` for
Gemma, which the service prompts in completion mode) called n times on the same prompt, each
with its own seed. Between the calls llama-cpp-python keeps the prompt's KV cache and
re-evaluates only the last prompt token; the script checks that by timing a 1-token call
cold and then again warm.

Batched evaluates the prompt once in sequence 0 of a second llama.cpp context (same model
weights, same thread count, `n_seq_max` n, one unified KV buffer), copies it to sequences
1..n-1 with `llama_memory_seq_cp`, then decodes all n sequences together, one token each per
`llama_decode`. Each sequence samples with llama.cpp's sampler chain built like the high-level
API's (top-k 40, top-p 0.95, min-p 0.05, temperature 0.8, seed per sequence).

End of text is handled, not ignored: a variant ends at an end-of-generation token or at
--tokens, whichever comes first, in both modes (batched drops a finished sequence from the
next decodes). Banning EOS instead would need a logits processor on the sequential side,
and llama-cpp-python's Python hook for those adds a per-token cost (large with Gemma's
262k-token vocabulary) that only that side would pay. So the token counts of the two modes
differ. Each round draws new seeds (the same for both modes), and the rates are totals over
all rounds; the speed-up is in variants per second, the issue's measure, with tokens/s
beside it to show whether a mode merely wrote shorter variants.

Run: `.venv/bin/python -m bench.batched --model smollm2 --n 3 --tokens 48`.
"""

import argparse
import json
import time
from pathlib import Path
from typing import Any

from app.llm.local import default_threads, extra_buffer_types_off, gemma_path, smollm2_path
from bench.common import RESULTS_DIR, machine, python_speed_s

SEED = 1000
TEMPERATURE = 0.8
TOP_K, TOP_P, MIN_P = 40, 0.95, 0.05  # the high-level API's defaults

SLOGAN_SYSTEM = (
    "You are a senior advertising copywriter. You write slogans that are short, concrete and "
    "easy to remember, in natural English. You answer with the slogan alone: no quotes, no "
    "numbering, no explanation.\n\nExamples:\n\n"
    "<brief>\nProduct: Highland spring water\n"
    "Key message: drawn from a mountain spring, tastes clean and sweet\n</brief>\n"
    "Slogan: Sweet as the mountain it came from.\n\n"
    "<brief>\nProduct: Featherlight down jacket\nKey message: weighs 300 g, warm at minus "
    "twenty\n</brief>\nSlogan: Light as nothing. Warmer than winter."
)
SLOGAN_USER = (
    "Write one slogan for the product in the brief. Stress the key message. One line, at most "
    '80 characters. No claims such as "the best", "#1" or "guaranteed".\n\n'
    "<brief>\nProduct: Aurora trail shoes\nKey message: grip on wet rock\n</brief>\nSlogan:"
)
ZH_PROMPT = (
    "你是一位资深中文广告文案，只写广告语本身。\n\n"
    "产品：山泉矿泉水\n核心卖点：源自深山泉眼，口感清甜\n广告语：一口清甜，来自深山的问候。\n\n"
    "产品：轻羽羽绒服\n核心卖点：只有三百克，却能抵御零下二十度\n广告语：轻如无物，暖过寒冬。\n\n"
    "产品：极光越野跑鞋\n核心卖点：湿滑岩石上也抓得稳\n广告语："
)


def load(model: str) -> Any:
    """The model as the service loads it (plain CPU buffers: AMX repack crashes decode)."""
    from llama_cpp import Llama

    path = smollm2_path() if model == "smollm2" else gemma_path()
    assert path is not None, "install the [local] extra"
    with extra_buffer_types_off():
        return Llama(model_path=str(path), n_ctx=2048, n_threads=default_threads(), verbose=False)


def call(llama: Any, model: str, max_tokens: int, seed: int, extra: dict[str, Any]) -> Any:
    """One variant the way the service asks for it."""
    kwargs = {"max_tokens": max_tokens, "seed": seed, "temperature": TEMPERATURE, **extra}
    if model == "gemma3-270m":
        return llama.create_completion(prompt=ZH_PROMPT, **kwargs)
    messages = [
        {"role": "system", "content": SLOGAN_SYSTEM},
        {"role": "user", "content": SLOGAN_USER},
    ]
    return llama.create_chat_completion(messages=messages, **kwargs)


def prefix_reuse(llama: Any, model: str) -> dict[str, Any]:
    """Seconds of a 1-token call with an empty cache, then of the same call again."""
    import llama_cpp

    llama.reset()
    found: dict[str, Any] = {}
    for name in ("first", "second"):
        llama_cpp.llama_perf_context_reset(llama.ctx)
        started = time.perf_counter()
        result = call(llama, model, 1, SEED, {})
        found[f"{name}_call_s"] = round(time.perf_counter() - started, 4)
        perf = llama_cpp.llama_perf_context(llama.ctx)
        found[f"{name}_tokens_decoded"] = perf.n_p_eval + perf.n_eval
    found["prompt_tokens"] = result["usage"]["prompt_tokens"]
    found["prompt"] = llama.input_ids[: found["prompt_tokens"]].tolist()
    return found


def sequential(llama: Any, model: str, n: int, max_tokens: int, seed: int) -> dict[str, Any]:
    """n calls one after another; the first pays the prompt, the others reuse its KV cache."""
    llama.reset()  # a new request: nothing cached from the last round
    texts, tokens = [], 0
    started = time.perf_counter()
    for i in range(n):
        result = call(llama, model, max_tokens, seed + i, {})
        choice = result["choices"][0]
        texts.append(choice["message"]["content"] if "message" in choice else choice["text"])
        tokens += int(result["usage"]["completion_tokens"])
    return {"seconds": time.perf_counter() - started, "tokens": tokens, "texts": texts}


class Batched:
    """A second context on the same weights with room for n sequences."""

    def __init__(self, llama: Any, n: int) -> None:
        import llama_cpp

        self.llama, self.n = llama, n
        params = llama_cpp.llama_context_params.from_buffer_copy(llama.context_params)
        params.n_seq_max = n
        params.kv_unified = True  # the sequences share a long prefix
        self.ctx = llama_cpp.llama_init_from_model(llama.model, params)
        assert self.ctx, "could not create the batched context"
        self.vocab = llama_cpp.llama_model_get_vocab(llama.model)
        self.batch = llama_cpp.llama_batch_init(llama.context_params.n_batch, 0, n)

    def close(self) -> None:
        import llama_cpp

        llama_cpp.llama_batch_free(self.batch)
        llama_cpp.llama_free(self.ctx)

    def _decode(self, entries: list[tuple[int, int, int]], last_only: bool = False) -> None:
        """One llama_decode of (token, position, sequence) entries, logits for each
        (or for the last one only)."""
        import llama_cpp

        for i, (token, pos, seq) in enumerate(entries):
            self.batch.token[i] = token
            self.batch.pos[i] = pos
            self.batch.n_seq_id[i] = 1
            self.batch.seq_id[i][0] = seq
            self.batch.logits[i] = not last_only or i == len(entries) - 1
        self.batch.n_tokens = len(entries)
        assert llama_cpp.llama_decode(self.ctx, self.batch) == 0

    def _sampler(self, seed: int) -> Any:
        import llama_cpp

        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        for sampler in (
            llama_cpp.llama_sampler_init_top_k(TOP_K),
            llama_cpp.llama_sampler_init_top_p(TOP_P, 1),
            llama_cpp.llama_sampler_init_min_p(MIN_P, 1),
            llama_cpp.llama_sampler_init_temp(TEMPERATURE),
            llama_cpp.llama_sampler_init_dist(seed),
        ):
            llama_cpp.llama_sampler_chain_add(chain, sampler)
        return chain

    def run(self, prompt: list[int], max_tokens: int, seed: int) -> dict[str, Any]:
        """Prompt once in sequence 0, copied to the others, then n tokens per decode."""
        import llama_cpp

        samplers = [self._sampler(seed + s) for s in range(self.n)]
        out: list[list[int]] = [[] for _ in range(self.n)]
        memory = llama_cpp.llama_get_memory(self.ctx)
        llama_cpp.llama_memory_clear(memory, True)
        started = time.perf_counter()
        # The prompt in sequence 0 (in chunks of n_batch), logits for its last token only.
        size = llama_cpp.llama_n_batch(self.ctx)
        for start in range(0, len(prompt), size):
            chunk = prompt[start : start + size]
            self._decode([(t, start + i, 0) for i, t in enumerate(chunk)], last_only=True)
        for seq in range(1, self.n):
            llama_cpp.llama_memory_seq_cp(memory, 0, seq, -1, -1)
        # Every sequence samples its first token from the prompt's last logits.
        last_index = {seq: len(chunk) - 1 for seq in range(self.n)}
        active, ended = list(range(self.n)), set()
        while active:
            for seq in active:
                token = llama_cpp.llama_sampler_sample(samplers[seq], self.ctx, last_index[seq])
                if llama_cpp.llama_vocab_is_eog(self.vocab, token):
                    ended.add(seq)  # not counted, as the high-level API does not count it
                else:
                    out[seq].append(token)
            active = [s for s in active if s not in ended and len(out[s]) < max_tokens]
            if active:
                self._decode([(out[s][-1], len(prompt) + len(out[s]) - 1, s) for s in active])
                last_index = {seq: i for i, seq in enumerate(active)}
        seconds = time.perf_counter() - started
        for sampler in samplers:
            llama_cpp.llama_sampler_free(sampler)
        texts = [self.llama.detokenize(tokens).decode(errors="replace") for tokens in out]
        return {"seconds": seconds, "tokens": sum(len(t) for t in out), "texts": texts}


def main() -> None:
    """Interleaved rounds of both modes; a table; bench/results/batched-*.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", choices=("smollm2", "gemma3-270m"), default="smollm2")
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=48, help="max_tokens per variant (48, 200)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    llama = load(args.model)
    reuse = prefix_reuse(llama, args.model)
    prompt = reuse.pop("prompt")
    batched = Batched(llama, args.n)
    call(llama, args.model, 4, SEED, {})  # warm both paths once, untimed
    batched.run(prompt, 4, SEED)
    runs: dict[str, list[dict[str, Any]]] = {"sequential": [], "batched": []}
    for round_ in range(args.rounds):  # the same n seeds for both modes, new ones each round
        seed = SEED + 100 * round_
        runs["sequential"].append(sequential(llama, args.model, args.n, args.tokens, seed))
        runs["batched"].append(batched.run(prompt, args.tokens, seed))
    batched.close()

    # Variants end at EOS at different lengths: rates are totals over all rounds.
    rows = {}
    for mode, results in runs.items():
        seconds = sum(r["seconds"] for r in results)
        tokens = sum(r["tokens"] for r in results)
        rows[mode] = {
            "tokens": round(tokens / args.rounds, 1),
            "seconds": round(seconds / args.rounds, 3),
            "tokens_per_s": round(tokens / seconds, 1),
            "variants_per_s": round(args.n * args.rounds / seconds, 2),
        }
    for row in rows.values():
        row["speed_up"] = round(row["variants_per_s"] / rows["sequential"]["variants_per_s"], 2)

    print(
        f"{Path(llama.model_path).name}, {default_threads()} threads, n={args.n}, "
        f"max_tokens {args.tokens}, {args.rounds} rounds (tokens and seconds: "
        f"means per request), "
        f"prompt {reuse['prompt_tokens']} tokens"
    )
    print(
        f"prefix reuse: 1-token call cold {reuse['first_call_s'] * 1000:.1f} ms "
        f"({reuse['first_tokens_decoded']} tokens decoded), warm "
        f"{reuse['second_call_s'] * 1000:.1f} ms ({reuse['second_tokens_decoded']} decoded)"
    )
    header = ("mode", "n", "tokens", "seconds", "tokens/s", "variants/s", "speed-up")
    print("{:<11} {:>2} {:>6} {:>8} {:>9} {:>10} {:>9}".format(*header))
    for mode, row in rows.items():
        print(
            f"{mode:<11} {args.n:>2} {row['tokens']:>6g} {row['seconds']:>8.3f} "
            f"{row['tokens_per_s']:>9.1f} {row['variants_per_s']:>10.2f} {row['speed_up']:>8.2f}x"
        )
    for mode, results in runs.items():
        print(f"{mode} variant 1: {results[-1]['texts'][0][:70]!r}")
    print(f"python_speed_s {python_speed_s()}")

    RESULTS_DIR.mkdir(exist_ok=True)
    report = {"machine": machine(), "args": vars(args), "prefix_reuse": reuse, "modes": rows}
    name = f"batched-{args.model}-n{args.n}-t{args.tokens}.json"
    (RESULTS_DIR / name).write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
