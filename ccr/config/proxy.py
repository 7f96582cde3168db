"""The proxy for upstream calls: ``PROXY_URL``, else the usual proxy environment variables.

Corporate networks set ``HTTPS_PROXY``/``NO_PROXY`` once for every tool; ccr honours them when
the config names no proxy of its own. A proxy taken from the environment never carries calls to
loopback providers (a local Ollama), whatever ``NO_PROXY`` says.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Checked in this order; provider URLs are nearly always https.
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY",
                   "http_proxy")
NO_PROXY_VARIABLES = ("NO_PROXY", "no_proxy")
LOOPBACK = ("localhost", "127.0.0.1", "::1")


def _no_proxy_hosts(value: str) -> tuple[str, ...]:
    hosts: list[str] = []
    for item in value.split(","):
        host = item.strip().lower()
        if host == "*":
            return ("*",)
        if host.startswith("[") and "]" in host:  # [::1]:8080
            host = host[1:host.index("]")]
        elif host.count(":") == 1:  # example.com:8080 (the port is not compared)
            host = host.partition(":")[0]
        host = host.lstrip("*")
        if host and host not in hosts:
            hosts.append(host)
    return tuple(hosts)


def proxy_settings(explicit: str | None,
                   env: Mapping[str, str]) -> tuple[str | None, tuple[str, ...]]:
    """``(proxy URL, hosts to reach directly)`` for upstream calls.

    ``explicit`` (``PROXY_URL``) wins and proxies every call, as in CCR. Otherwise the first
    proxy variable set is used (``http://`` assumed without a scheme, as curl does) and
    ``NO_PROXY`` plus the loopback names bypass it.
    """
    if explicit:
        return explicit, ()
    for name in PROXY_VARIABLES:
        value = env.get(name, "").strip()
        if value:
            url = value if "://" in value else f"http://{value}"
            no_proxy = next((env[n] for n in NO_PROXY_VARIABLES if env.get(n, "").strip()), "")
            hosts = _no_proxy_hosts(no_proxy)
            return url, (*hosts, *(h for h in LOOPBACK if h not in hosts))
    return None, ()
