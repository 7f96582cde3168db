"""Agents: tools that ccr adds to a request and resolves itself, so the client never sees them.

An agent prepares the Anthropic request (e.g. replaces images with references and adds an
``analyzeImage`` tool); when the model calls one of its tools, the exchange runs the tool
inside ccr and asks the model again with the result, continuing the same client message.
"""

from ccr.agents.base import AgentRun, InternalCall, InternalCalls
from ccr.agents.image import ImageAgent

__all__ = ["AgentRun", "ImageAgent", "InternalCall", "InternalCalls"]
