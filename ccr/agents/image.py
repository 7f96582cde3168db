"""The image agent: lets a model without vision work with images, as CCR's does.

With ``Router.image`` set and ``forceUseImageAgent: true`` (or images only in earlier turns),
each image in the request is replaced by a ``[Image #N]`` reference and the model gets an
``analyzeImage`` tool. ccr answers that tool itself by asking the image route about the
images, so the client never sees the tool.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from ccr.agents.base import AgentRun

TOOL_NAME = "analyzeImage"
PLACEHOLDER = "This is an image, if you need to view or analyze it, you need to extract the imageId"

SYSTEM_PROMPT = (
    "You are a text-only language model and do not possess visual perception. If the user "
    "asks you to view, analyze, or extract information from an image, you must call the "
    f"`{TOOL_NAME}` tool with the imageId taken from the conversation. Image identifiers "
    "appear as `[Image #imageId]`. If several images exist, choose the most relevant ones for "
    "the current request. Do not try to describe an image yourself."
)

ANALYST_PROMPT = (
    "Interpret and analyze the images strictly according to the assigned task. Stay within "
    "the scope of the user's instructions and answer with a clear, accurate description "
    "aligned with the objective."
)

TOOL = {
    "name": TOOL_NAME,
    "description": (
        "Analyse image or images by ID and extract information such as OCR text, objects, "
        "layout, colors, or safety signals."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "imageId": {"type": "array", "items": {"type": "string"},
                        "description": "the IDs of the images to analyse"},
            "task": {"type": "string",
                     "description": "What to find out from the images; the more detail the "
                                    "better"},
            "regions": {
                "type": "array",
                "description": "Optional regions of interest within the images",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "x": {"type": "number"}, "y": {"type": "number"},
                        "w": {"type": "number"}, "h": {"type": "number"},
                        "units": {"type": "string", "enum": ["px", "pct"]},
                    },
                    "required": ["x", "y", "w", "h", "units"],
                },
            },
        },
        "required": ["imageId", "task"],
    },
}

#: Runs a non-streamed Anthropic request on the image route and returns the answer message.
Complete = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def has_image(content: Any) -> bool:
    if not isinstance(content, list):
        return False
    return any(
        isinstance(b, dict)
        and (b.get("type") == "image" or (b.get("type") == "tool_result"
                                          and has_image(b.get("content"))))
        for b in content
    )


class ImageAgent:
    def __init__(self, image_route: str, *, max_tokens: int = 4096) -> None:
        self.image_route = image_route
        self.max_tokens = max_tokens

    def applies(self, body: dict[str, Any], *, forced: bool, route_name: str) -> bool:
        """Images anywhere in the user turns, and the request is not already on the image
        route. Without ``forced``, a last user turn with images went to the image route by
        the ``image`` rule, so only images in earlier turns bring the agent in."""
        if route_name.lower() == self.image_route.lower():
            return False
        users = [m for m in body.get("messages") or []
                 if isinstance(m, dict) and m.get("role") == "user"]
        return any(has_image(m.get("content")) for m in users) and (
            forced or not has_image(users[-1].get("content"))
        )

    def prepare(self, body: dict[str, Any], complete: Complete) -> AgentRun:
        """Replace images by references (in place), add the tool and the system prompt."""
        images: dict[str, dict[str, Any]] = {}
        for message in body.get("messages") or []:
            if isinstance(message, dict) and message.get("role") == "user":
                message["content"] = _replace_images(message.get("content"), images)
        tools = list(body.get("tools") or [])
        if not any(isinstance(t, dict) and t.get("name") == TOOL_NAME for t in tools):
            tools.append(TOOL)
        body["tools"] = tools
        system = body.get("system")
        blocks = [{"type": "text", "text": system}] if isinstance(system, str) else list(
            system or [])
        body["system"] = [*blocks, {"type": "text", "text": SYSTEM_PROMPT}]
        question = _last_user_text(body)

        async def analyze(args: dict[str, Any]) -> str:
            ids = args.get("imageId")
            ids = ids if isinstance(ids, list) else [ids]
            content: list[dict[str, Any]] = [
                {"type": "image", "source": images[str(i)]} for i in ids if str(i) in images
            ]
            if not content:
                return f"no image with id {', '.join(map(str, ids))} (known: " \
                       f"{', '.join(images) or 'none'})"
            extra = {k: v for k, v in args.items() if k != "imageId"}
            if question:
                content.append({"type": "text", "text": question})
            if extra:
                content.append({"type": "text", "text": json.dumps(extra, ensure_ascii=False)})
            answer = await complete({
                "model": self.image_route,
                "max_tokens": self.max_tokens,
                "system": ANALYST_PROMPT,
                "messages": [{"role": "user", "content": content}],
                "stream": False,
            })
            texts = [b.get("text", "") for b in answer.get("content") or []
                     if isinstance(b, dict) and b.get("type") == "text"]
            return "\n".join(t for t in texts if t) or f"{TOOL_NAME}: the image model gave no text"

        return AgentRun({TOOL_NAME: analyze}, name="image")


def _replace_images(content: Any, images: dict[str, dict[str, Any]]) -> Any:
    if not isinstance(content, list):
        return content
    out = []
    for block in content:
        if not isinstance(block, dict):
            out.append(block)
        elif block.get("type") == "image":
            out.append({"type": "text", "text": _reference(block, images)})
        elif block.get("type") == "tool_result" and has_image(block.get("content")):
            inner = block.get("content") or []
            parts = [
                {"type": "text", "text": _reference(b, images)}
                if isinstance(b, dict) and b.get("type") == "image" else b
                for b in inner
            ]
            out.append({**block, "content": parts})
        else:
            out.append(block)
    return out


def _reference(block: dict[str, Any], images: dict[str, dict[str, Any]]) -> str:
    image_id = str(len(images) + 1)
    images[image_id] = block.get("source") or {}
    return f"[Image #{image_id}]{PLACEHOLDER}"


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return "\n".join(
                b.get("text", "") for b in content or []
                if isinstance(b, dict) and b.get("type") == "text"
                and PLACEHOLDER not in b.get("text", "")
                and not b.get("text", "").lstrip().startswith("<system-reminder>")
            ).strip()
    return ""
