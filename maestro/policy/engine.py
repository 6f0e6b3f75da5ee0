"""Evaluating ``data.maestro.authz.decision``: in process with regorus (a Rego interpreter
embedded as a Python extension) by default, or by the OPA server at ``MAESTRO_OPA_URL``
(``POST /v1/data/maestro/authz/decision`` with ``{"input": …}``).

An engine that cannot answer (the OPA server unreachable or slow, a policy that fails to
compile or to evaluate, an answer without a decision) raises :class:`PolicyUnavailable`; the
decision points deny then (:mod:`maestro.policy.decisions`) and ``/readyz`` says so."""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import regorus
from django.conf import settings

from maestro.policy.bundle import _merge, bundle_load, fingerprint

log = logging.getLogger(__name__)

PACKAGE = "maestro.authz"
QUERY = f"data.{PACKAGE}.decision"
OPA_PATH = "/v1/data/" + PACKAGE.replace(".", "/") + "/decision"


class PolicyUnavailable(Exception):
    """The policy engine could not answer."""


@dataclass(frozen=True)
class Decision:
    """What the policy answered: allowed when no rule denied; ``reasons`` are the denying
    rules' ``{"rule", "message"}``, sorted as the policy's set is."""

    reasons: list[dict[str, str]] = field(default_factory=list)
    version: str = ""

    @property
    def allowed(self) -> bool:
        return not self.reasons

    @property
    def policy(self) -> str:
        """The policy that denied: ``maestro.authz.<rule of the first reason>``."""
        return f"{PACKAGE}.{self.reasons[0]['rule']}" if self.reasons else PACKAGE

    @property
    def message(self) -> str:
        return "; ".join(r["message"] for r in self.reasons)


def _clean(error: BaseException) -> str:
    # regorus appends a native stack trace to its errors: the first lines say what and where.
    return str(error).split("Stack backtrace:")[0].strip()


def _decision(answer: Any) -> Decision:
    if not isinstance(answer, dict) or not isinstance(answer.get("deny"), list) \
            or not isinstance(answer.get("version"), str):
        raise PolicyUnavailable(f"{QUERY} is not a decision {{deny: [...], version: string}}: {answer!r:.200}")
    reasons = []
    for reason in answer["deny"]:
        if isinstance(reason, dict):
            reasons.append({"rule": str(reason.get("rule") or "deny"), "message": str(reason.get("message", ""))})
        else:  # a rule that denies with a plain string names no rule of its own
            reasons.append({"rule": "deny", "message": str(reason)})
    return Decision(reasons=reasons, version=answer["version"])


class Embedded:
    """The bundle compiled into a regorus engine, rebuilt when a file of it changes. A regorus
    engine belongs to the thread that made it (it refuses to be used, or even dropped,
    elsewhere), so each engine lives in a thread-local of the thread that evaluates with it: the
    process's main thread, where a prefork worker runs every job, has one of its own (no hand-over
    per step); every other thread hands its decisions to one policy thread, which owns another
    (0.2-0.4 ms a decision, docs/operations.md). A bundle that fails to load or compile is
    remembered until it changes, and every decision raises :class:`PolicyUnavailable`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._pid = 0
        self._state = threading.local()  # the main thread's engine, and the policy thread's

    def _thread(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None or self._pid != os.getpid():  # a forked worker makes its own
                self._executor, self._pid = ThreadPoolExecutor(1, thread_name_prefix="policy"), os.getpid()
            return self._executor

    def evaluate(self, input: dict[str, Any]) -> Decision:
        try:
            if threading.current_thread() is threading.main_thread():
                return self._evaluate(input)
            return self._thread().submit(self._evaluate, input).result()
        except (PolicyUnavailable, KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # a panic in the interpreter (raised as a BaseException) cannot answer either
            raise PolicyUnavailable(f"the Rego interpreter failed: {_clean(exc)}") from None

    def _evaluate(self, input: dict[str, Any]) -> Decision:
        state = self._state
        try:
            key = fingerprint()
        except OSError as exc:
            raise PolicyUnavailable(f"policy files unreadable: {exc}") from None
        if getattr(state, "key", None) != key:
            state.engine, state.error, state.key = None, "", key
            try:
                state.engine = _compile()
            except (OSError, ValueError, RuntimeError) as exc:
                state.error = f"policy bundle does not compile: {_clean(exc)}"
                log.error("policy bundle does not compile", extra={"event": "policy.compile_failed",
                                                                   "error": state.error})
        if state.engine is None:
            raise PolicyUnavailable(state.error)
        try:
            state.engine.set_input_json(json.dumps(input))
            answer = json.loads(state.engine.eval_rule_as_json(QUERY))
        except (RuntimeError, ValueError) as exc:
            raise PolicyUnavailable(f"{QUERY} failed: {_clean(exc)}") from None
        return _decision(answer)

    def describe(self) -> str:
        return "embedded"


def _compile() -> regorus.Engine:
    # Its own frame: an engine that failed half-way is dropped here, in the owning thread, not
    # kept alive by a traceback that travels to the caller's thread.
    bundle = bundle_load()
    engine = regorus.Engine()
    try:
        for module in bundle.modules:
            engine.add_policy(str(module.path), module.text)
        merged: dict[str, Any] = {}
        for doc in bundle.data_documents():
            _merge(merged, doc)
        engine.add_data_json(json.dumps(merged))
    except RuntimeError as exc:
        del engine
        raise RuntimeError(str(exc)) from None
    return engine


class OpaServer:
    def __init__(self, url: str, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def evaluate(self, input: dict[str, Any]) -> Decision:
        request = urllib.request.Request(self.url + OPA_PATH, data=json.dumps({"input": input}).encode(),
                                         method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = json.loads(response.read(1024 * 1024))
        except urllib.error.HTTPError as exc:
            raise PolicyUnavailable(f"OPA at {self.url} answered {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            raise PolicyUnavailable(f"OPA at {self.url} did not answer: {getattr(exc, 'reason', exc)}") from None
        if not isinstance(body, dict) or "result" not in body:
            # OPA answers {} for a document that is not defined: the policy is not loaded.
            raise PolicyUnavailable(f"OPA at {self.url} has no {QUERY} (is the Maestro bundle loaded?)")
        return _decision(body["result"])

    def describe(self) -> str:
        return f"opa {self.url}"


_embedded = Embedded()


def engine() -> Embedded | OpaServer:
    """The engine the settings name (read per decision: tests and operators may change them)."""
    if settings.MAESTRO_OPA_URL:
        return OpaServer(settings.MAESTRO_OPA_URL, settings.MAESTRO_OPA_TIMEOUT_SECONDS)
    return _embedded


# The input /readyz asks about: an operation no rule knows, so only a working engine answers.
READINESS_INPUT: dict[str, Any] = {"operation": "maestro.readyz", "tenant": "", "subject": {
    "name": "readyz", "type": "system", "role": "", "via": "system"}}


def policy_check() -> str:
    """The readiness check ``policy``: the engine answers a decision (raises when it cannot)."""
    chosen = engine()
    decision = chosen.evaluate(READINESS_INPUT)
    return f"ok ({chosen.describe()}, {decision.version})"
