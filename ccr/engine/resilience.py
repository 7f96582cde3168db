"""What the engine keeps for failing over: provider health, sticky fallbacks, limits.

Health and sticky fallbacks outlive a config reload (the new engine takes them over, with the
new ``COOLDOWN`` settings); the limits are rebuilt from each config.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ccr.config.model import Config
from ccr.engine.health import Health
from ccr.engine.limits import Admission, ProviderGates
from ccr.engine.sticky import StickyFallbacks

Clock = Callable[[], float]


@dataclass
class ResilienceState:
    health: Health
    sticky: StickyFallbacks
    gates: ProviderGates
    admission: Admission

    @classmethod
    def build(cls, config: Config, clock: Clock = time.monotonic) -> ResilienceState:
        settings = config.resilience
        return cls(
            health=Health(settings.cooldown, clock),
            sticky=StickyFallbacks(clock),
            gates=ProviderGates(dict(settings.provider_concurrency),
                                timeout_s=max(1.0, config.api_timeout_ms / 1000)),
            admission=Admission(settings.limits, clock),
        )

    def take_over(self, previous: ResilienceState, config: Config) -> None:
        """Keep what the previous engine learned about providers and sessions."""
        self.health = previous.health
        self.health.adopt(config.resilience.cooldown)
        self.sticky = previous.sticky

    def providers(self, config: Config) -> list[tuple[str, tuple[str | None, ...]]]:
        """``(name, keys)`` of every configured provider, as health views take them."""
        return [(p.name, tuple(p.api_keys) or (None,)) for p in config.providers]
