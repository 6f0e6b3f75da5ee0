"""An identity provider's side of JWT access, for real: RS256 and ES256 keys minted here, their
public halves served as a JWKS by a real HTTP server on a free local port (a thread of the test
process), and tokens signed with PyJWT. Nothing on Maestro's verification path is replaced."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://idp.example.test/realms/acme"
AUDIENCE = "maestro-api"


class JwksServer:
    """Serves ``{"keys": [...]}`` for the keys currently published. ``hits`` counts fetches;
    while ``hold`` is set the server answers nothing until ``release`` is called."""

    def __init__(self) -> None:
        self.private: dict[str, tuple[Any, str]] = {}
        self.published: list[str] = []
        self.extra: list[dict[str, Any]] = []  # served as they are, after the published keys
        self.hits = 0
        self.hold = False
        self.held = threading.Event()  # set once a fetch is being held
        self._release = threading.Event()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 — http.server's name
                with server._lock:
                    server.hits += 1
                    hold = server.hold
                if hold:
                    server.held.set()
                    server._release.wait(30)
                body = json.dumps({"keys": server.jwks()}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # A path of its own: each test's key set is a new URL, never one a previous test cached.
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks/{uuid.uuid4().hex}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def add(self, kid: str, alg: str = "RS256", *, publish: bool = True) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if alg == "RS256" \
            else ec.generate_private_key(ec.SECP256R1())
        self.private[kid] = (key, alg)
        if publish:
            self.published.append(kid)

    def publish(self, kid: str) -> None:
        self.published.append(kid)

    def remove(self, kid: str) -> None:
        self.published.remove(kid)

    def jwks(self) -> list[dict[str, Any]]:
        out = []
        for kid in self.published:
            key, alg = self.private[kid]
            algo = RSAAlgorithm if alg == "RS256" else ECAlgorithm
            jwk = algo.to_jwk(key.public_key(), as_dict=True)
            out.append({**jwk, "kid": kid, "use": "sig"})
        return out + self.extra

    def release(self) -> None:
        self.hold = False
        self._release.set()

    def token(self, kid: str = "k1", *, alg: str | None = None, signing_kid: str | None = None,
              header_kid: str | None = None, **claims: Any) -> str:
        """A token signed with ``signing_kid``'s key (default ``kid``), its header naming
        ``header_kid`` (default ``kid``). Claims default to a valid, fresh access token; a claim
        given as None is left out."""
        key, key_alg = self.private[signing_kid or kid]
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "sub-0001", "iat": now, "exp": now + 300, **claims}
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, key, algorithm=alg or key_alg, headers={"kid": header_kid or kid})

    def close(self) -> None:
        self.release()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def idp(settings: Any) -> Iterator[JwksServer]:
    """A provider with one RS256 key ``k1`` and one ES256 key ``e1``, configured as Maestro's
    issuer; claims do not grant access unless a test says so."""
    server = JwksServer()
    server.add("k1", "RS256")
    server.add("e1", "ES256")
    settings.OIDC_JWKS_URL = server.url
    settings.OIDC_ISSUER = ISSUER
    settings.OIDC_AUDIENCE = AUDIENCE
    settings.OIDC_CLAIMS_GRANT_ACCESS = False
    yield server
    server.close()
