"""The background server: PID file, start/stop, liveness, shared-server reference counting."""
