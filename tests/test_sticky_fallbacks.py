"""A session that fell back stays on its fallback while the primary cools down."""

from __future__ import annotations

from ccr.engine.sticky import StickyFallbacks
from tests.support.resilience_helpers import FakeClock

TARGETS = ["deepseek,chat", "openrouter,x", "ollama,q"]


def test_a_pinned_session_starts_on_its_fallback_while_the_primary_is_unhealthy() -> None:
    sticky = StickyFallbacks(FakeClock())
    sticky.pin("s1", "deepseek,chat", "ollama,q")
    assert sticky.order("s1", TARGETS, lambda route: False) == [
        "ollama,q", "deepseek,chat", "openrouter,x"]


def test_other_sessions_are_not_affected() -> None:
    sticky = StickyFallbacks(FakeClock())
    sticky.pin("s1", "deepseek,chat", "ollama,q")
    assert sticky.order("s2", TARGETS, lambda route: False) == TARGETS


def test_the_pin_is_dropped_once_the_primary_is_healthy_again() -> None:
    sticky = StickyFallbacks(FakeClock())
    sticky.pin("s1", "deepseek,chat", "ollama,q")
    assert sticky.order("s1", TARGETS, lambda route: True) == TARGETS
    assert sticky.order("s1", TARGETS, lambda route: False) == TARGETS
    assert len(sticky) == 0


def test_an_unused_pin_expires() -> None:
    clock = FakeClock()
    sticky = StickyFallbacks(clock, ttl_s=60)
    sticky.pin("s1", "deepseek,chat", "ollama,q")
    clock.advance(61)
    assert sticky.order("s1", TARGETS, lambda route: False) == TARGETS


def test_pins_are_bounded_in_number() -> None:
    sticky = StickyFallbacks(FakeClock(), max_sessions=2)
    for i in range(5):
        sticky.pin(f"s{i}", "deepseek,chat", "ollama,q")
    assert len(sticky) == 2
    assert sticky.order("s4", TARGETS, lambda route: False)[0] == "ollama,q"
    assert sticky.order("s0", TARGETS, lambda route: False) == TARGETS


def test_requests_without_a_session_are_never_pinned() -> None:
    sticky = StickyFallbacks(FakeClock())
    sticky.pin(None, "deepseek,chat", "ollama,q")
    assert len(sticky) == 0
