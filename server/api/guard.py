"""What every response carries and every request must pass before any handler runs.

An ASGI middleware placed at the front of Connexion's stack:
- the ``Host`` header must name an allowed host (the bound host and localhost by default,
  ``hiddenscope serve --allow-host`` adds more): a page on another site cannot reach a local
  server through a DNS name that it re-points to 127.0.0.1 (DNS rebinding);
- a request that changes something (any method but GET and HEAD) sent by a page of another
  site is refused 403: its ``Origin`` (or, without one, its ``Referer``) must name an
  allowed host (cross-site request forgery: a page elsewhere posting to /rescan);
- a path or query string past its bound is answered 414, headers past theirs 431
  (problem+json), before anything parses them;
- every response gets ``X-Content-Type-Options: nosniff``, and the client's pages a strict
  Content-Security-Policy (scripts, styles and data from this origin only, no inline script,
  no framing), since it shows text from data sets that anyone may have written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_QUERY_BYTES = 64 * 1024  # the longest valid query (4096 cells of 10 digits) is ~45 KB
MAX_PATH_BYTES = 8192  # a 200-character id of 4-byte characters, percent-encoded, is 2,400
MAX_HEADER_BYTES = 64 * 1024  # all headers together; browsers send a few KB
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
_SLASHES, _RAW_SLASHES = re.compile("/{2,}"), re.compile(b"/{2,}")
CLIENT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"  # JSON is never a page


def allowed_hosts(bound: str, extra: Iterable[str] = ()) -> list[str]:
    """The hosts a request may name: ``bound`` (unless it is a wildcard address), localhost,
    and ``extra``; lower-case, without ports or IPv6 brackets."""
    hosts = [*LOCAL_HOSTS, *(h for h in [bound] if h not in ("0.0.0.0", "::", ""))]
    hosts += list(extra)
    return sorted({_bare(h) for h in hosts})


def _bare(host: str) -> str:
    """``Example.org:8888`` -> ``example.org``; ``[::1]:80`` -> ``::1``. A port that is not
    digits (``localhost:80@evil``) leaves the text whole, so it matches no allowed host."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        port = host[end + 1 :] if end > 0 else ""
        ok = end > 0 and (port == "" or (port[:1] == ":" and port[1:].isdigit()))
        return host[1:end] if ok else host
    if host.count(":") == 1:
        name, port = host.rsplit(":", 1)
        return name if port.isdigit() else host
    return host


def problem_body(status: int, title: str, detail: str) -> bytes:
    return json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    ).encode()


def _origin_host(value: str) -> str | None:
    """The host named by an ``Origin`` or ``Referer`` value (``http://evil.com:80/x`` ->
    ``evil.com``); None when it names none (``null``, not a URL)."""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    return _bare(parts.netloc)


class Guard:
    """The ASGI middleware; ``hosts``: the allowed hosts (default :data:`LOCAL_HOSTS`)."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str] | None = None) -> None:
        self.app = app
        self.hosts = {_bare(h) for h in (LOCAL_HOSTS if hosts is None else hosts)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await self._answer(send, *refusal)
            return
        path = scope.get("path", "")
        if "//" in path:
            # Connexion's router and Flask's (which merges slashes) must see the same path:
            # else Flask runs an operation that Connexion never validated
            path = _SLASHES.sub("/", path)
            raw = _RAW_SLASHES.sub(b"/", scope.get("raw_path") or path.encode())
            scope = {**scope, "path": path, "raw_path": raw}
        csp = CLIENT_CSP if path == "/" or path.startswith("/client") else API_CSP
        if path.startswith("/api/v1/ui"):
            csp = None  # Swagger UI's page needs inline script; it shows no data set text

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in (b"x-content-type-options", b"content-security-policy")
                ]
                headers.append((b"x-content-type-options", b"nosniff"))
                if csp:
                    headers.append((b"content-security-policy", csp.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        headers = {k: v.decode("latin-1") for k, v in scope.get("headers", [])
                   if k in (b"host", b"origin", b"referer")}
        host = headers.get(b"host", "")
        if _bare(host) not in self.hosts:
            return (
                400,
                "Bad Request",
                f"Host {host[:100]!r} is not served here; this server answers "
                f"{', '.join(sorted(self.hosts))}. Open it by one of those names, or "
                "start it with --allow-host NAME",
            )
        if scope.get("method", "GET") not in ("GET", "HEAD"):
            # a browser names the page that sent the request; another site's page may not
            # change anything here (no Origin nor Referer: not a browser page, e.g. curl)
            name = b"origin" if b"origin" in headers else b"referer"
            sender = headers.get(name)
            if sender is not None and _origin_host(sender) not in self.hosts:
                return (
                    403,
                    "Forbidden",
                    f"{name.decode().capitalize()} {sender[:100]!r} is not allowed to send "
                    f"{scope.get('method')} requests here; this server accepts them from "
                    f"pages of {', '.join(sorted(self.hosts))} (or start it with "
                    "--allow-host NAME)",
                )
        size = sum(len(k) + len(v) for k, v in scope.get("headers", []))
        if size > MAX_HEADER_BYTES:
            return (
                431,
                "Request Header Fields Too Large",
                f"the headers are {size:,} bytes, over the bound of {MAX_HEADER_BYTES:,}",
            )
        query = scope.get("query_string", b"")
        if len(query) > MAX_QUERY_BYTES:
            return (
                414,
                "URI Too Long",
                f"the query string is {len(query):,} bytes, over the bound of "
                f"{MAX_QUERY_BYTES:,}; ask for fewer values per request",
            )
        raw = scope.get("raw_path") or scope.get("path", "").encode()
        if len(raw) > MAX_PATH_BYTES:
            return (
                414,
                "URI Too Long",
                f"the path is {len(raw):,} bytes, over the bound of {MAX_PATH_BYTES:,}",
            )
        return None

    @staticmethod
    async def _answer(send: Send, status: int, title: str, detail: str) -> None:
        body = problem_body(status, title, detail)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"content-security-policy", API_CSP.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
