"""Test helpers: real servers on loopback, fake upstreams, the stream validator, fixtures."""
