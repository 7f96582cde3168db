"""What the Vertex AI transformers share: Google credentials, access tokens, and the project,
region and URL scheme of a Vertex endpoint.

Credentials, in the order they are looked for (CCR's option names first):

- options ``client_email`` + ``private_key`` (a service account, as CCR's ``vertex-openai``
  takes them; ``\\n`` in the key is a newline), with optional ``token_uri`` and ``project_id``;
- option ``credentials`` (or ``keyFile``): the path of a service-account or ``gcloud auth
  application-default login`` JSON file;
- the ``GOOGLE_APPLICATION_CREDENTIALS`` file, as CCR's ``vertex-gemini``/``vertex-claude``.

The project is option ``project`` (or ``project_id``), else ``GOOGLE_CLOUD_PROJECT``, else the
credentials' own; the region is option ``location`` (or ``region``), else
``GOOGLE_CLOUD_LOCATION``, else the transformer's default. Credentials are read at the first
request, so a config loads on a machine without them and the error names what is missing.

Tokens last an hour. A valid token is used as it is; one within :data:`EARLY_REFRESH_S` of its
end is refreshed in a background thread while requests go on with it; only with no valid token
at all (the first request, or after a long idle) does a request wait for the token endpoint,
and then in a worker thread: the engine awaits :meth:`TokenSource.warm` before building the
request.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from ccr.errors import ApiError

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
#: Refresh in the background once a token has less than this left.
EARLY_REFRESH_S = 600.0
#: How long a request may wait for the token endpoint.
TOKEN_TIMEOUT_S = 30.0


class VertexSettings:
    """The credentials source, project and region from a transformer's options."""

    def __init__(self, options: Mapping[str, Any], *, name: str, default_location: str) -> None:
        self.name = name
        for key in ("client_email", "private_key", "token_uri", "credentials", "keyFile",
                    "project", "project_id", "location", "region"):
            if key in options and not isinstance(options[key], str):
                raise ValueError(f'"{key}" must be a string')
        self.inline: dict[str, Any] | None = None
        if options.get("client_email") or options.get("private_key"):
            if not (options.get("client_email") and options.get("private_key")):
                raise ValueError('"client_email" and "private_key" go together')
            self.inline = {
                "type": "service_account",
                "client_email": options["client_email"],
                "private_key": str(options["private_key"]).replace("\\n", "\n"),
                "token_uri": options.get("token_uri") or "https://oauth2.googleapis.com/token",
            }
            if options.get("project_id"):
                self.inline["project_id"] = options["project_id"]
        self.key_file = options.get("credentials") or options.get("keyFile") or None
        self._project = options.get("project") or options.get("project_id") or None
        self._location = options.get("location") or options.get("region") or None
        self.default_location = default_location

    def location(self) -> str:
        return self._location or os.environ.get("GOOGLE_CLOUD_LOCATION") or \
            self.default_location

    def info(self) -> dict[str, Any]:
        """The credentials JSON; ApiError when there is none to be had."""
        if self.inline is not None:
            return self.inline
        path = self.key_file or os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
        if not path:
            raise ApiError(
                f"{self.name}: no Google credentials: give the transformer a \"credentials\" "
                "key file (or client_email and private_key), or set "
                "GOOGLE_APPLICATION_CREDENTIALS", 500)
        try:
            value = json.loads(Path(path).expanduser().read_text())
        except (OSError, ValueError) as exc:
            raise ApiError(f"{self.name}: cannot read the Google credentials file {path}: "
                           f"{type(exc).__name__}", 500) from None
        if not isinstance(value, dict):
            raise ApiError(f"{self.name}: {path} is not a Google credentials file", 500)
        return value

    def project(self, info: Mapping[str, Any] | None) -> str:
        project = self._project or os.environ.get("GOOGLE_CLOUD_PROJECT") or (
            info.get("project_id") or info.get("quota_project_id") if info else None)
        if not project:
            raise ApiError(f"{self.name}: no Google Cloud project: set the transformer's "
                           "\"project\" or GOOGLE_CLOUD_PROJECT", 500)
        return str(project)


class TokenSource:
    """One set of credentials and its current access token, shared by every request."""

    def __init__(self, settings: VertexSettings) -> None:
        self.settings = settings
        self._credentials: Any = None
        self._info: dict[str, Any] | None = None
        #: Held while loading or refreshing (network I/O: never taken on the event loop while
        #: a token is valid).
        self._lock = threading.Lock()
        #: Guards only the flag below, for an instant: the event loop may take it.
        self._flag = threading.Lock()
        self._refreshing = False

    def project(self) -> str:
        self._load()
        return self.settings.project(self._info)

    def token(self) -> str:
        """A valid access token (see the module docstring for when this waits)."""
        credentials = self._load()
        if _remaining(credentials) > EARLY_REFRESH_S:
            return str(credentials.token)
        if credentials.valid:
            self._refresh_in_background()
            return str(credentials.token)
        with self._lock:
            if not credentials.valid:
                self._refresh(credentials)
        return str(credentials.token)

    def ready(self) -> bool:
        """A token is at hand that :meth:`token` would return without waiting."""
        credentials = self._credentials
        return credentials is not None and bool(credentials.valid)

    async def warm(self) -> None:
        """Make :meth:`token` instant: load and fetch off the event loop when needed."""
        if not self.ready():
            await asyncio.to_thread(self.token)

    def _load(self) -> Any:
        if self._credentials is None:
            with self._lock:
                if self._credentials is None:
                    self._info = self.settings.info()
                    self._credentials = _credentials(self._info, self.settings.name)
        return self._credentials

    def _refresh(self, credentials: Any) -> None:
        import google.auth.exceptions
        import google.auth.transport.requests
        import requests

        session = requests.Session()
        request = google.auth.transport.requests.Request(session)
        try:
            credentials.refresh(_TimedRequest(request))
        except (google.auth.exceptions.GoogleAuthError, requests.RequestException) as exc:
            raise ApiError(f"{self.settings.name}: Google refused or did not answer the token "
                           f"request ({type(exc).__name__})", 401, "authentication_error"
                           ) from None
        finally:
            session.close()

    def _refresh_in_background(self) -> None:
        with self._flag:
            if self._refreshing:
                return
            self._refreshing = True

        def run() -> None:
            try:
                with self._lock:
                    if _remaining(self._credentials) <= EARLY_REFRESH_S:
                        self._refresh(self._credentials)
            except ApiError:
                pass  # the next request that needs a token tries again, and reports it
            finally:
                with self._flag:
                    self._refreshing = False

        threading.Thread(target=run, name="vertex-token", daemon=True).start()


class _TimedRequest:
    """The transport google-auth calls, with a timeout the library does not set by itself."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, url: str, method: str = "GET", body: Any = None,
                 headers: Any = None, timeout: float | None = None, **kwargs: Any) -> Any:
        return self.inner(url, method=method, body=body, headers=headers,
                          timeout=timeout or TOKEN_TIMEOUT_S, **kwargs)


def _credentials(info: dict[str, Any], name: str) -> Any:
    """Service-account or ``gcloud`` user credentials; other kinds (external accounts, which
    run commands or read URLs named in the file) are refused."""
    import google.auth.exceptions
    from google.oauth2 import credentials as user_credentials
    from google.oauth2 import service_account

    kind = info.get("type")
    try:
        if kind == "service_account":
            return service_account.Credentials.from_service_account_info(info,
                                                                          scopes=list(SCOPES))
        if kind == "authorized_user":
            return user_credentials.Credentials.from_authorized_user_info(info,
                                                                          scopes=list(SCOPES))
    except (google.auth.exceptions.GoogleAuthError, ValueError) as exc:
        raise ApiError(f"{name}: the Google credentials are not usable: {type(exc).__name__}",
                       500) from None
    raise ApiError(f"{name}: Google credentials of type {kind!r} are not supported "
                   "(use a service account key or gcloud application-default credentials)", 500)


def _remaining(credentials: Any) -> float:
    """Seconds of validity left (0 without a token)."""
    if not credentials.token or credentials.expiry is None:
        return 0.0 if not credentials.token else float("inf")
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    return (credentials.expiry - now).total_seconds()


# --- URLs ---------------------------------------------------------------------------------------


def vertex_root(base: str, location: str, default_version: str) -> str:
    """``<host>/<version>`` for a Vertex call: the provider's base (a version segment it ends
    with is kept), or the region's host when the base is empty."""
    trimmed = base.strip().rstrip("/")
    if not trimmed:
        host = "aiplatform.googleapis.com" if location == "global" else \
            f"{location}-aiplatform.googleapis.com"
        trimmed = f"https://{host}"
    last = urlsplit(trimmed).path.rstrip("/").rsplit("/", 1)[-1]
    if last.startswith("v1"):
        return trimmed
    return f"{trimmed}/{default_version}"


def location_path(project: str, location: str) -> str:
    return f"projects/{quote(project, safe='')}/locations/{quote(location, safe='')}"


def model_segment(model: str) -> str:
    return quote(model.strip(), safe="-._~@")
