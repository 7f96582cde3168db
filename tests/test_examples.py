"""Every example config loads, validates and builds its transformer chains as shipped."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import json5
import pytest

from ccr.config import load_config
from ccr.engine.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
SCRIPT_DIRS = (ROOT / "examples" / "transformers", ROOT / "router_scripts")
_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def _place_referenced_files(raw: dict, home: Path) -> None:
    """Put the example scripts a config names (``~/...`` paths) where it expects them."""
    paths = [raw.get("CUSTOM_ROUTER_PATH")] + [t.get("path") for t in raw.get("transformers", [])]
    for path in filter(None, paths):
        target = Path(path.replace("~", str(home), 1))
        source = next(d / target.name for d in SCRIPT_DIRS if (d / target.name).exists())
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_config_loads_and_builds(path: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    text = path.read_text()
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in set(_VAR.findall(text)):
        monkeypatch.setenv(name, f"dummy-{name.lower()}")
    _place_referenced_files(json5.loads(text), tmp_path)
    config = load_config(path)
    assert config.providers
    assert config.resolve(config.router.default or "") is not None
    engine = Engine.build(config)
    assert set(engine.chains) == {(p.name, m) for p in config.providers for m in p.models}


def test_every_example_names_its_variables_instead_of_literal_keys() -> None:
    for path in EXAMPLES:
        for provider in json5.loads(path.read_text()).get("Providers", []):
            key = provider.get("api_key")
            assert key is None or key.startswith("$"), f"{path.name}: {provider['name']}"
