"""A local HTTP server that plays Stripe's recorded responses, for the official client's `api_base`.

A real server on a real socket (http.server in a thread): the stripe library sends its real requests
(form-encoded bodies, Idempotency-Key, Stripe-Version headers) and parses real responses. The responses
are the recorded objects in tests/stripe_recorded/ (Stripe's API reference examples) with the ids,
amounts, currencies and metadata of the request filled in.

Like Stripe, it remembers every Idempotency-Key: a repeated key returns the first response unchanged
(header Idempotent-Replayed: true), and a repeated key with different parameters is refused with an
idempotency_error. Every request is recorded (`requests`), every object created counted (`created`), and
each creation appends the event Stripe would emit to `events` (served by GET /v1/events).

Helpers build webhook events shaped and signed exactly as Stripe does (`event`, `signed`).
"""

from __future__ import annotations

import copy
import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe

RECORDED = Path(__file__).parent / "stripe_recorded"
API_VERSION = stripe._api_version._ApiVersion.CURRENT  # noqa: SLF001 - the version the client sends


def recorded(name: str) -> dict[str, Any]:
    return json.loads((RECORDED / f"{name}.json").read_text())


def _set_path(target: dict[str, Any], key: str, value: str) -> None:
    """'metadata[payment_id]' -> target['metadata']['payment_id'] (Stripe's form encoding)."""
    parts = key.replace("]", "").split("[")
    node = target
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def parse_form(body: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        _set_path(out, key, value)
    return out


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


@dataclass
class Recorded:
    method: str
    path: str
    idempotency_key: str | None
    params: dict[str, Any]
    status: int
    replayed: bool


@dataclass
class StripeServer:
    requests: list[Recorded] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)  # "payment_intent" -> objects created
    failures: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    _idem: dict[str, tuple[str, dict[str, Any], int, dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # --- lifecycle ---
    def start(self) -> StripeServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                url = urlsplit(self.path)
                params = parse_form(body if self.command == "POST" else url.query)
                status, payload, replayed = server.dispatch(
                    self.command, url.path, params, self.headers.get("Idempotency-Key"),
                    self.headers.get("Authorization", ""))
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.send_header("Request-Id", _id("req"))
                if replayed:
                    self.send_header("Idempotent-Replayed", "true")
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_DELETE = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="stripe-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # --- what tests look at ---
    def keys(self, path_prefix: str = "/v1/") -> list[str | None]:
        return [r.idempotency_key for r in self.requests if r.method == "POST" and r.path.startswith(path_prefix)]

    def fail_next(self, path_prefix: str, status: int = 500, error: str = "error_api") -> None:
        """The next request to `path_prefix` gets this recorded error (once)."""
        self.failures.append((path_prefix, status, recorded(error)))

    # --- Stripe's side of a payment, as the dashboard or the payer would cause it ---
    def intent_event(self, intent_id: str, event_type: str) -> dict[str, Any]:
        """Move a PaymentIntent (succeeded, payment_failed, processing, canceled) and emit its event."""
        status = {"payment_intent.succeeded": "succeeded", "payment_intent.processing": "processing",
                  "payment_intent.payment_failed": "requires_payment_method",
                  "payment_intent.canceled": "canceled"}[event_type]
        with self._lock:
            obj = self.objects[intent_id]
            obj["status"] = status
            if status == "succeeded":
                obj["amount_received"] = obj["amount"]
                obj["latest_charge"] = obj.get("latest_charge") or _id("ch")
            obj["last_payment_error"] = ({"code": "card_declined", "message": "Your card was declined.",
                                          "type": "card_error"}
                                         if event_type == "payment_intent.payment_failed" else None)
            return self._emit(event_type, copy.deepcopy(obj))

    # --- the API ---
    def dispatch(self, method: str, path: str, params: dict[str, Any], key: str | None,
                 authorization: str) -> tuple[int, dict[str, Any], bool]:
        with self._lock:
            if not authorization.startswith("Bearer sk_"):
                status, payload = 401, {"error": {"type": "invalid_request_error",
                                                  "message": "Invalid API Key provided"}}
                self.requests.append(Recorded(method, path, key, params, status, False))
                return status, payload, False
            if method == "POST" and key:
                seen = self._idem.get(key)
                if seen is not None:
                    first_path, first_params, status, payload = seen
                    if first_path != path or first_params != params:
                        error = recorded("error_idempotency")
                        error["error"]["message"] = error["error"]["message"].replace("KEY", key)
                        self.requests.append(Recorded(method, path, key, params, 400, False))
                        return 400, error, False
                    self.requests.append(Recorded(method, path, key, params, status, True))
                    return status, copy.deepcopy(payload), True
            for i, (prefix, status, error) in enumerate(self.failures):
                if path.startswith(prefix):
                    del self.failures[i]
                    self.requests.append(Recorded(method, path, key, params, status, False))
                    if method == "POST" and key and status < 500:  # Stripe stores 4xx results under the key
                        self._idem[key] = (path, params, status, error)
                    return status, error, False
            status, payload = self._route(method, path, params)
            self.requests.append(Recorded(method, path, key, params, status, False))
            if method == "POST" and key and status < 500:
                self._idem[key] = (path, params, status, copy.deepcopy(payload))
            return status, payload, False

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "POST" and path == "/v1/payment_intents":
            obj = recorded("payment_intent")
            obj.update(id=_id("pi"), amount=int(params["amount"]), currency=params["currency"],
                       description=params.get("description"), metadata=params.get("metadata", {}),
                       created=int(time.time()))
            obj["client_secret"] = f"{obj['id']}_secret_{secrets.token_hex(12)}"
            return 200, self._create("payment_intent", obj, "payment_intent.created")
        if method == "POST" and path == "/v1/refunds":
            intent = self.objects.get(params.get("payment_intent", ""))
            if intent is None or intent["status"] != "succeeded":
                return 400, {"error": {"type": "invalid_request_error", "param": "payment_intent",
                                       "message": "This PaymentIntent does not have a successful charge to refund."}}
            obj = recorded("refund")
            obj.update(id=_id("re"), amount=intent["amount"], currency=intent["currency"],
                       payment_intent=intent["id"], charge=intent["latest_charge"],
                       metadata=params.get("metadata", {}), reason=params.get("reason"), created=int(time.time()))
            created = self._create("refund", obj, "refund.created")
            charge = recorded("charge")
            charge.update(id=intent["latest_charge"], amount=intent["amount"], amount_captured=intent["amount"],
                          amount_refunded=intent["amount"], currency=intent["currency"],
                          payment_intent=intent["id"], refunded=True)
            self._emit("charge.refunded", charge)
            return 200, created
        if method == "POST" and path == "/v1/transfers":
            obj = recorded("transfer")
            obj.update(id=_id("tr"), amount=int(params["amount"]), currency=params["currency"],
                       destination=params["destination"], transfer_group=params.get("transfer_group"),
                       metadata=params.get("metadata", {}), created=int(time.time()))
            return 200, self._create("transfer", obj, "transfer.created")
        if method == "GET" and path == "/v1/events":
            return 200, self._event_page(params)
        if method == "GET" and path.startswith("/v1/") and path.rsplit("/", 1)[-1] in self.objects:
            return 200, copy.deepcopy(self.objects[path.rsplit("/", 1)[-1]])
        return 404, {"error": {"type": "invalid_request_error",
                               "message": f"Unrecognized request URL ({method}: {path})."}}

    def _create(self, kind: str, obj: dict[str, Any], event_type: str) -> dict[str, Any]:
        self.objects[obj["id"]] = obj
        self.created[kind] = self.created.get(kind, 0) + 1
        self._emit(event_type, copy.deepcopy(obj))
        return copy.deepcopy(obj)

    def _emit(self, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
        ev = event(event_type, obj)
        self.events.append(ev)
        return copy.deepcopy(ev)

    def _event_page(self, params: dict[str, Any]) -> dict[str, Any]:
        newest_first = list(reversed(self.events))
        start = 0
        if params.get("starting_after"):
            ids = [e["id"] for e in newest_first]
            start = ids.index(params["starting_after"]) + 1 if params["starting_after"] in ids else len(ids)
        limit = int(params.get("limit") or 10)
        page = newest_first[start:start + limit]
        return {"object": "list", "url": "/v1/events", "has_more": start + limit < len(newest_first),
                "data": copy.deepcopy(page)}


_event_seq = itertools.count(1)


def event(event_type: str, obj: dict[str, Any], *, created: int | None = None) -> dict[str, Any]:
    """A webhook event with Stripe's shape (recorded envelope) around `obj`."""
    ev = recorded("event")
    ev.update(id=f"evt_{secrets.token_hex(8)}{next(_event_seq):06d}", type=event_type,
              created=created or int(time.time()), api_version=API_VERSION, data={"object": obj})
    return ev


def signed(ev: dict[str, Any] | str, secret: str, *, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    """The body and headers Stripe would send for `ev`, signed with the endpoint's secret."""
    payload = ev if isinstance(ev, str) else json.dumps(ev, indent=2)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)
    return payload.encode(), {"Stripe-Signature": header, "Content-Type": "application/json; charset=utf-8"}
