# A ccr transformer: keep e-mail addresses away from the model, and give them back in its answer.
#
# On the way out, every e-mail address in the conversation becomes a placeholder such as
# [email-1] and a system note asks the model to write the placeholders as they are. On the way
# back, the placeholders in the answer (streamed or not) become the addresses again, so the
# client sees them while the provider never does.
#
# Config ("transformers" at top level; the provider uses it by name):
#     "transformers": [{"path": "~/.claude-code-router/plugins/redact_emails.py",
#                       "options": {"label": "email", "note": true}}]
#     ... "transformer": {"use": ["redact-emails"]}
#
# It runs in ccr's sandbox: a fresh instance for every hook call, so what must last for the
# whole request (which address each placeholder stands for, text held back between stream
# chunks) lives in ctx.state.
import re

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


class RedactEmails:
    name = "redact-emails"

    def __init__(self, options):
        self.label = options.get("label", "email")
        if not isinstance(self.label, str) or not re.fullmatch(r"[a-z]{1,20}", self.label):
            raise ValueError('"label" must be 1-20 lowercase letters, e.g. "email"')
        self.note = options.get("note", True)
        self.placeholder = re.compile(r"\[" + self.label + r"-\d+\]")

    # -- out -----------------------------------------------------------------------------------

    def transform_request(self, request, ctx):
        found = {}

        def hide(match):
            address = match.group(0)
            if address not in found:
                found[address] = f"[{self.label}-{len(found) + 1}]"
            return found[address]

        for message in request.get("messages", []):
            content = message.get("content")
            if isinstance(content, str):
                message["content"] = EMAIL.sub(hide, content)
            elif isinstance(content, list):
                for part in content:
                    if part.get("type") == "text":
                        part["text"] = EMAIL.sub(hide, part["text"])
        ctx.state["emails"] = {placeholder: address for address, placeholder in found.items()}
        if found and self.note:
            note = ("E-mail addresses in this conversation were replaced by placeholders such "
                    f"as [{self.label}-1]. Write a placeholder exactly as it is wherever the "
                    "address belongs.")
            request["messages"].insert(0, {"role": "system", "content": note})
        return request

    # -- back ----------------------------------------------------------------------------------

    def transform_response(self, response, ctx):
        for choice in response.get("choices", []):
            message = choice.get("message") or {}
            if isinstance(message.get("content"), str):
                message["content"] = self.restore(message["content"], ctx)
        return response

    def transform_chunk(self, chunk, ctx):
        if not ctx.state.get("emails"):
            return chunk
        held = ctx.state.get("held", "")
        choices = chunk.get("choices") or []
        delta = choices[0].get("delta") if choices else None
        text = delta.get("content") if isinstance(delta, dict) else None
        if not isinstance(text, str):
            # A finish, tool call or usage chunk: what was held back goes out first.
            ctx.state["held"] = ""
            return [self.text_chunk(chunk, held), chunk] if held else [chunk]
        text = held + text
        cut = self.unfinished(text)
        ctx.state["held"] = text[cut:]
        delta["content"] = self.restore(text[:cut], ctx)
        return chunk

    def end_stream(self, ctx):
        held = ctx.state.get("held")
        ctx.state["held"] = ""
        return [self.text_chunk({}, held)] if held else []

    # -- helpers -------------------------------------------------------------------------------

    def restore(self, text, ctx):
        emails = ctx.state.get("emails") or {}
        return self.placeholder.sub(lambda m: emails.get(m.group(0), m.group(0)), text)

    def unfinished(self, text):
        """Where a placeholder that may go on in the next chunk starts (else the end)."""
        start = text.rfind("[")
        tail = text[start:]
        prefix = "[" + self.label + "-"
        if start < 0 or "]" in tail:
            return len(text)
        if prefix.startswith(tail) or (tail.startswith(prefix) and tail[len(prefix):].isdigit()):
            return start
        return len(text)

    def text_chunk(self, like, text):
        return {
            "id": like.get("id", "chatcmpl-redact-emails"),
            "object": "chat.completion.chunk",
            "model": like.get("model", ""),
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
        }
