# project_based.py - a model per project.
#
# Claude Code keeps each conversation under ~/.claude/projects/<project>/<session>.jsonl, where
# <project> is the working folder with "/" turned into "-": /home/me/src/webapp is
# "-home-me-src-webapp". ccr finds it from the request's session id and passes it as
# req.project (None when the session has no transcript yet, e.g. on its very first request,
# or the client is not Claude Code).
#
# Options (config.json):
#
#   "CUSTOM_ROUTER_OPTIONS": {
#     "project_routes": {
#       "-webapp$|-frontend$|-site$": "gemini,gemini-2.5-pro",   // front-end work
#       "-home-me-src-infra": "deepseek,deepseek-chat",
#       "scratch": "ollama,qwen2.5-coder:latest"
#     }
#   }
#
# Each key is a regular expression searched in the project name, case-insensitively, so a
# plain word matches anywhere in it ("webapp" matches "-home-me-src-webapp"; "-webapp$" only
# a folder named webapp). The first matching key, in the order written, wins. Projects that
# match nothing return None, and ccr's built-in Router rules decide.
#
# (For a whole different Router per project, ccr also reads
# ~/.claude-code-router/<project>/config.json; this script is for simple one-line mappings.)
#
# Try it: ccr route --dry-run request.json --session-id <a session id of that project>

import re


def router(req, config):
    project = req.project
    if not project:
        return None
    options = config.get("CUSTOM_ROUTER_OPTIONS") or {}
    for pattern, route in (options.get("project_routes") or {}).items():
        if route and re.search(pattern, project, re.I):
            return route
    return None
