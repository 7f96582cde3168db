"""How fast the ``ccr`` commands start, as a ratio to the bare interpreter in the same run.

Claude Code runs ``ccr statusline`` on every status refresh, so its start-up is most of its
cost. Absolute times depend on the machine and its load; the ratio to ``python -c pass``,
measured interleaved in one run, is what the targets are stated in:

- ``ccr statusline`` at most 3x, ``ccr --help`` and ``ccr status`` at most 6x,
  ``ccr route --dry-run`` on one request at most 10x;
- ``ccr serve`` answers ``/health`` within 0.8 s of being started.

Run from the project root: ``.venv/bin/python -m bench.cli_start [--runs N] [--json]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: (label, ccr arguments, target ratio to the interpreter).
COMMANDS: tuple[tuple[str, list[str], float], ...] = (
    ("statusline", ["statusline"], 3.0),
    ("--help", ["--help"], 6.0),
    ("status", ["status"], 6.0),
    ("route --dry-run", ["route", "--dry-run", "{request}"], 10.0),
)
SERVE_TARGET_S = 0.8

REQUEST = {"model": "claude-sonnet-4-5", "max_tokens": 64,
           "messages": [{"role": "user", "content": "Say hi."}]}


def _ccr_command() -> list[str]:
    """The installed ``ccr`` script beside this interpreter, else ``python -m ccr``."""
    script = Path(sys.executable).with_name("ccr")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ccr"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _workspace(folder: Path) -> tuple[dict[str, str], dict[str, str]]:
    """An isolated CCR_HOME with a one-provider config, and the paths to substitute."""
    home = folder / "home"
    home.mkdir()
    config = home / "config.json"
    config.write_text(json.dumps({
        "Providers": [{"name": "fake", "api_base_url": "http://127.0.0.1:9/v1/chat/completions",
                       "models": ["fake-model"]}],
        "Router": {"default": "fake,fake-model"},
        "PORT": _free_port(),
        "LOG": False,
    }))
    request = folder / "request.json"
    request.write_text(json.dumps(REQUEST))
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(CCR_HOME=str(home), HOME=str(folder), NO_COLOR="1")
    return env, {"request": str(request), "config": str(config)}


def _time(argv: list[str], env: dict[str, str], stdin: bytes) -> float:
    started = time.perf_counter()
    subprocess.run(argv, input=stdin, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def measure_commands(runs: int, env: dict[str, str], paths: dict[str, str]) -> dict[str, Any]:
    """Median wall time of each command and of the interpreter, runs interleaved."""
    ccr = _ccr_command()
    baseline = [sys.executable, "-c", "pass"]
    stdin = json.dumps({"session_id": "bench-session"}).encode()
    samples: dict[str, list[float]] = {"python -c pass": []}
    for label, _, _ in COMMANDS:
        samples[label] = []
    for _ in range(runs + 1):  # the first round warms the file cache and is dropped
        samples["python -c pass"].append(_time(baseline, env, b""))
        for label, args, _ in COMMANDS:
            argv = [*ccr, *(a.format(**paths) for a in args)]
            samples[label].append(_time(argv, env, stdin))
    medians = {label: statistics.median(values[1:]) for label, values in samples.items()}
    base = medians["python -c pass"]
    return {
        "python_s": round(base, 4),
        "commands": [
            {"command": f"ccr {label}", "median_s": round(medians[label], 4),
             "ratio": round(medians[label] / base, 2), "target": target,
             "met": medians[label] / base <= target}
            for label, _, target in COMMANDS
        ],
    }


def _health(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=0.2)
    try:
        conn.request("GET", "/health")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def measure_serve(runs: int, env: dict[str, str], paths: dict[str, str]) -> dict[str, Any]:
    """Seconds from starting ``ccr serve`` to its first 200 on ``/health``."""
    times: list[float] = []
    for _ in range(runs):
        port = _free_port()
        argv = [*_ccr_command(), "serve", "--config", paths["config"], "--port", str(port)]
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            while not _health(port):
                if process.poll() is not None or time.perf_counter() - started > 30:
                    raise RuntimeError("ccr serve did not come up")
                time.sleep(0.005)
            times.append(time.perf_counter() - started)
        finally:
            process.terminate()
            process.wait(15)
    median = statistics.median(times)
    return {"command": "ccr serve -> /health", "median_s": round(median, 3),
            "target_s": SERVE_TARGET_S, "met": median <= SERVE_TARGET_S}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="measured runs per command")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env, paths = _workspace(Path(tmp))
        result = measure_commands(options.runs, env, paths)
        result["serve"] = measure_serve(max(3, options.runs // 2), env, paths)
    if options.json:
        print(json.dumps(result, indent=2))
        return
    print(f"python -c pass: {result['python_s'] * 1000:.0f} ms (median of {options.runs})")
    print(f"{'command':<24} {'median':>9} {'ratio':>7} {'target':>7}  met")
    for row in result["commands"]:
        print(f"{row['command']:<24} {row['median_s'] * 1000:>7.0f}ms {row['ratio']:>6.2f}x "
              f"{row['target']:>6.0f}x  {'yes' if row['met'] else 'NO'}")
    serve = result["serve"]
    print(f"{serve['command']:<24} {serve['median_s'] * 1000:>7.0f}ms {'':>7} "
          f"{serve['target_s']:>6.1f}s  {'yes' if serve['met'] else 'NO'}")


if __name__ == "__main__":
    main()
