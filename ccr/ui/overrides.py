"""Project and session Router overrides under ``CCR_HOME``, listed and edited by the console.

``<CCR_HOME>/<project>/config.json`` and ``<CCR_HOME>/<project>/<session_id>.json`` replace the
whole Router for that work. An edit is checked the way the override will be used: the global
config with its Router replaced, through the config loader (so the messages are the CLI's).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import json5

from ccr.config import backup_config, write_text_atomic
from ccr.context.projects import PROJECT_CONFIG_NAME, is_safe_file_name
from ccr.ui import configfile as cfgfile
from ccr.ui.edits import ROUTER_KEYS
from ccr.ui.masking import secret_values

#: Folders under ``CCR_HOME`` that are ccr's own, never a project.
_NOT_PROJECTS = frozenset({"logs", "plugins", "code-sessions"})


def override_path(home: Path, project: Any, session: Any) -> Path:
    """Where an override lives; :class:`cfgfile.SaveRefused` for a name that is not one."""
    if not is_safe_file_name(project) or project in _NOT_PROJECTS or project.startswith("."):
        raise cfgfile.SaveRefused(f"project: {str(project)[:80]!r} is not a project folder name")
    if session in (None, ""):
        return home / project / PROJECT_CONFIG_NAME
    if (not is_safe_file_name(session) or session.startswith(".")
            or f"{session}.json" == PROJECT_CONFIG_NAME):
        raise cfgfile.SaveRefused(f"session: {str(session)[:80]!r} is not a session id")
    return home / project / f"{session}.json"


def list_overrides(home: Path, config: Any) -> list[dict[str, Any]]:
    """Every override file with a Router, and the routes in it that are not configured."""
    found = []
    try:
        folders = sorted(p for p in home.iterdir() if p.is_dir())
    except OSError:
        return []
    for folder in folders:
        if folder.name in _NOT_PROJECTS or folder.name.startswith("."):
            continue
        for file in sorted(folder.glob("*.json")):
            try:
                data = json5.loads(file.read_text(encoding="utf-8"))
            except Exception:
                continue
            router = data.get("Router") if isinstance(data, dict) else None
            if not isinstance(router, dict):
                continue
            problems = [f"{slot}: {value!r} is not a configured route"
                        for slot, value in router.items()
                        if isinstance(value, str) and "," in value
                        and config.resolve(value) is None]
            found.append({
                "project": folder.name,
                "session": None if file.name == PROJECT_CONFIG_NAME else file.stem,
                "router": {k: v for k, v in router.items() if isinstance(v, str | int)},
                "problems": problems,
            })
    return found


def clean_router(form: Any) -> dict[str, Any]:
    if not isinstance(form, dict):
        raise cfgfile.SaveRefused("Router: an object of slots")
    router: dict[str, Any] = {}
    for key in ROUTER_KEYS:
        value = form.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        text = str(value).strip()
        router[key] = int(text) if key == "longContextThreshold" and text.isdigit() else text
    return router


def check_override(config_path: Path, router: dict[str, Any]) -> None:
    """Raise :class:`cfgfile.SaveRefused` unless the global config with this Router loads."""
    data = cfgfile.editable_data(config_path)
    data["Router"] = router
    cfgfile.check_data(data, config_path, secret_values(data))


def save_override(home: Path, config_path: Path, project: Any, session: Any,
                  form: Any) -> dict[str, Any]:
    """Write an override's Router (other keys of the file are kept), checked first."""
    path = override_path(home, project, session)
    router = clean_router(form)
    if not router:
        raise cfgfile.SaveRefused("an override needs at least one Router slot (remove it "
                                  "instead)")
    check_override(config_path, router)
    data: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = json5.loads(path.read_text(encoding="utf-8"))
        except Exception as exc:
            raise cfgfile.SaveRefused(f"{path.name} does not parse ({exc}); fix it by hand "
                                      "first") from None
        data = loaded if isinstance(loaded, dict) else {}
    data["Router"] = router
    backup = write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return {"saved": str(path), "backup": backup.name if backup else None}


def remove_override(home: Path, project: Any, session: Any) -> dict[str, Any]:
    """Delete an override file (a backup of it is kept beside it)."""
    path = override_path(home, project, session)
    if not path.is_file():
        raise cfgfile.SaveRefused(f"no override at {path}", status=404)
    backup = backup_config(path)
    path.unlink()
    return {"saved": str(path), "backup": backup.name, "removed": True}
