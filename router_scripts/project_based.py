# project_based.py - a model per project.
#
# req.project is the folder name Claude Code keeps a project's conversations under, in
# ~/.claude/projects/: the working directory with every character but letters and digits turned
# into "-" (/home/me/src/webapp is "-home-me-src-webapp"). ccr reads the working directory from
# the system prompt Claude Code sends with every request, so this works from a session's first
# request, a one-shot `claude -p` included. req.cwd is the directory itself. Both are None when
# the client is not Claude Code. A model picked with /model ("provider,model") always wins.
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
# Try it: ccr route --dry-run request.json --explain

import re


def router(req, config):
    if req.explicit_route:
        return req.explicit_route
    project = req.project
    if not project:
        return None
    options = config.get("CUSTOM_ROUTER_OPTIONS") or {}
    for pattern, route in (options.get("project_routes") or {}).items():
        if route and re.search(pattern, project, re.I):
            return route
    return None
