"""Built-in transformers: each module registers its classes on import, as a user's would."""

from ccr.transformers.builtin import maxtoken, openai  # noqa: F401
