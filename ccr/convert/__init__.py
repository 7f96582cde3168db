"""Anthropic Messages <-> the unified format (OpenAI Chat Completions plus a few extensions)."""

from ccr.convert.common import is_generated_signature
from ccr.convert.request import anthropic_to_openai, strip_extensions
from ccr.convert.response import openai_to_anthropic
from ccr.convert.stream import StreamConverter

__all__ = [
    "StreamConverter",
    "anthropic_to_openai",
    "is_generated_signature",
    "openai_to_anthropic",
    "strip_extensions",
]
