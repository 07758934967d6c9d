"""A llama-index `CustomLLM` over a newscite engine (local model or OpenAI-compatible server)."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from pydantic import PrivateAttr

from rag.llm.chat import ChatEngine


def _to_dicts(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    out = []
    for m in messages:
        role = m.role.value if isinstance(m.role, MessageRole) else str(m.role)
        if role not in ("system", "user", "assistant"):
            role = "user"
        out.append({"role": role, "content": m.content or ""})
    return out


class EngineLLM(CustomLLM):
    """Lets llama-index chat and query engines generate with a newscite engine.

    Chat calls keep their messages (so the model's own chat template applies); completion
    calls send the prompt as one user message. Errors surface as `core.errors.EngineError`.
    """

    _engine: ChatEngine = PrivateAttr()

    def __init__(self, engine: ChatEngine, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._engine = engine

    @classmethod
    def class_name(cls) -> str:
        return "newscite_engine_llm"

    @property
    def metadata(self) -> LLMMetadata:
        settings = self._engine.settings
        return LLMMetadata(
            context_window=settings.llm_ctx,
            num_output=settings.llm_max_tokens,
            is_chat_model=True,
            model_name=f"newscite-{self._engine.name}",
        )

    def _stream(self, messages: list[dict[str, str]], **kwargs: Any) -> Iterator[str]:
        return self._engine.stream_messages(messages, max_tokens=kwargs.get("max_tokens"),
                                            stop=kwargs.get("stop"))

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        text = "".join(self._stream([{"role": "user", "content": prompt}], **kwargs))
        return CompletionResponse(text=text)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False,
                        **kwargs: Any) -> CompletionResponseGen:
        def gen() -> CompletionResponseGen:
            text = ""
            for piece in self._stream([{"role": "user", "content": prompt}], **kwargs):
                text += piece
                yield CompletionResponse(text=text, delta=piece)
        return gen()

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        text = "".join(self._stream(_to_dicts(messages), **kwargs))
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        def gen() -> ChatResponseGen:
            text = ""
            for piece in self._stream(_to_dicts(messages), **kwargs):
                text += piece
                yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text),
                                   delta=piece)
        return gen()
