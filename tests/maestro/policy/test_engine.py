"""The policy engine (maestro/policy): the shipped default policy, operators' extra files, the
bundle's revision, an OPA server over real HTTP, and an engine that cannot answer (denies, and
/readyz says so)."""

from __future__ import annotations

import io
import socket
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.test import Client

from maestro.core.actors import Actor
from maestro.policy.bundle import bundle_load
from maestro.policy.decisions import Subject, decide, policy_input
from tests.maestro.policy.support import OpaLike, policy_dir

MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def ask(operation: str, *, via: str, role: str = "", name: str = "olivia", **fields):
    actor_type = {"job": "job", "system": "system"}.get(via, "api")
    subject = Subject.of(Actor(name=name, actor_type=actor_type), role=role, via=via)
    return decide(policy_input(operation=operation, tenant="default", subject=subject, now=MONDAY_NOON, **fields))


def outcome(verdict):
    return (verdict.allowed, verdict.policy, verdict.message)


ROLES_DENIED = (False, "maestro.authz.roles", "Requires the operator role")
ALLOWED = (True, "maestro.authz", "")


@pytest.mark.parametrize(("operation", "via", "role", "expected"), [
    # through the API: operator and up, as the role check before policies had it
    ("run.start", "api", "viewer", ROLES_DENIED),
    ("run.start", "api", "", ROLES_DENIED),
    ("run.start", "api", "operator", ALLOWED),
    ("run.start", "api", "admin", ALLOWED),
    ("playbook.run", "api", "viewer", ROLES_DENIED),
    ("playbook.run", "api", "operator", ALLOWED),
    ("playbook.run", "api", "admin", ALLOWED),
    # the admin site's gate is Django's model permissions; loops and the engine are not people
    ("run.start", "admin", "", ALLOWED),
    ("run.start", "admin", "viewer", ALLOWED),
    ("playbook.run", "system", "", ALLOWED),
    ("playbook.run", "job", "", ALLOWED),
    ("step.execute", "job", "", ALLOWED),
])
def test_the_default_policy_reproduces_the_role_rules(operation, via, role, expected):
    # when
    verdict = ask(operation, via=via, role=role, workflow="deploy", playbook="pb-1")
    # then
    assert outcome(verdict) == expected
    assert verdict.version == bundle_load().revision
    assert verdict.policy_id == f"{expected[1]}@{bundle_load().revision}"


def test_the_revision_is_a_content_hash_of_every_file_of_the_bundle(tmp_path, settings):
    # given
    shipped = bundle_load().revision
    extra = policy_dir(tmp_path / "extra", "business_hours")
    settings.MAESTRO_POLICY_DIRS = [str(extra)]
    # when
    with_extra = bundle_load().revision
    (extra / "business_hours.rego").write_text((extra / "business_hours.rego").read_text() + "\n# edited\n")
    edited = bundle_load().revision
    # then
    assert [shipped[:7], len(shipped)] == ["sha256:", 23]
    assert len({shipped, with_extra, edited}) == 3
    assert [f.name for f in bundle_load().modules] == ["0/maestro/authz.rego", "1/business_hours.rego"]
    assert ask("step.execute", via="job", step={"action": "noop", "params": {}, "host": None}).version == edited


def test_the_main_thread_and_other_threads_decide_alike_and_see_an_edit_at_once(tmp_path, settings):
    # The main thread (a prefork worker's jobs) evaluates with an engine of its own; other
    # threads (the web's request threads) hand over to the policy thread, which owns another.
    from concurrent.futures import ThreadPoolExecutor

    extra = policy_dir(tmp_path / "extra", rego="package maestro.authz\n")
    settings.MAESTRO_POLICY_DIRS = [str(extra)]

    def both():
        with ThreadPoolExecutor(3) as pool:
            threads = list(pool.map(lambda _: outcome(ask("run.start", via="api", role="admin", workflow="x")),
                                    range(6)))
        return outcome(ask("run.start", via="api", role="admin", workflow="x")), set(threads)

    # when
    before = both()
    (extra / "extra.rego").write_text('package maestro.authz\nimport rego.v1\n'
                                      'deny contains {"rule": "frozen", "message": "frozen"} if true\n')
    after = both()

    # then
    assert before == (ALLOWED, {ALLOWED})
    assert after == ((False, "maestro.authz.frozen", "frozen"), {(False, "maestro.authz.frozen", "frozen")})


def test_a_policy_that_does_not_compile_denies_and_readyz_names_it(db, tmp_path, settings):
    # given: an operator's file with a syntax error
    broken = policy_dir(tmp_path / "extra", rego="package maestro.authz\nimport rego.v1\ndeny contains x if {\n")
    settings.MAESTRO_POLICY_DIRS = [str(broken)]

    # when
    verdict = ask("run.start", via="api", role="admin", workflow="deploy")
    ready = Client().get("/readyz")
    (broken / "extra.rego").write_text("package maestro.authz\n")  # fixed: used from the next decision on
    fixed = ask("run.start", via="api", role="admin", workflow="deploy")

    # then
    assert (verdict.allowed, verdict.policy, verdict.version) == (False, "policy_engine.unavailable", "")
    assert verdict.message.startswith("the policy engine could not answer: policy bundle does not compile: ")
    assert "extra.rego:4" in verdict.message
    assert ready.status_code == 503
    body = ready.json()
    assert (body["code"], body["message"], body["details"]["failing"]) == ("NOT_READY", "not ready: policy",
                                                                          ["policy"])
    assert body["details"]["checks"]["policy"].startswith("PolicyUnavailable: policy bundle does not compile: ")
    assert outcome(fixed) == ALLOWED


def test_a_missing_policy_directory_denies(tmp_path, settings):
    settings.MAESTRO_POLICY_DIRS = [str(tmp_path / "nowhere")]
    verdict = ask("step.execute", via="job", step={"action": "noop", "params": {}, "host": None})
    assert (verdict.allowed, verdict.policy_id) == (False, "policy_engine.unavailable")
    assert verdict.message == (f"the policy engine could not answer: policy files unreadable: policy directory "
                               f"{tmp_path / 'nowhere'} does not exist")


def test_a_decision_that_is_not_one_denies(tmp_path, settings):
    # given: an operator redefines the decision as something else (a compile error in OPA; in
    # regorus a conflict at evaluation)
    rego = "package maestro.authz\nimport rego.v1\ndeny contains 7 if true\n"
    settings.MAESTRO_POLICY_DIRS = [str(policy_dir(tmp_path / "extra", rego=rego))]
    # when
    verdict = ask("run.start", via="api", role="admin", workflow="deploy")
    # then: a plain value names no rule of its own
    assert (verdict.allowed, verdict.policy, verdict.message) == (False, "maestro.authz.deny", "7")


def _bundle(tmp_path, *examples, data=None):
    if examples or data:
        from django.conf import settings

        settings.MAESTRO_POLICY_DIRS = [str(policy_dir(tmp_path / "extra", *examples, data=data))]
    out = io.StringIO()
    call_command("maestro_policy_bundle", out=str(tmp_path / "bundle"), stdout=out)
    return tmp_path / "bundle", out.getvalue().strip()


def test_an_opa_server_decides_with_the_bundle_maestro_writes_for_it(db, tmp_path, settings):
    # given: the bundle (default + the playbook runners example) served by an OPA-compatible server
    bundle, revision = _bundle(tmp_path, "playbook_runners", data={"maestro": {"playbook_runners": {"pb-1": ["ada"]}}})
    evaluated_here = bundle_load().revision
    settings.MAESTRO_POLICY_DIRS = []  # only the OPA server knows the extra rule now
    with OpaLike(bundle) as opa:
        settings.MAESTRO_OPA_URL = opa.url + "/"
        # when
        viewer = ask("run.start", via="api", role="viewer", workflow="deploy")
        olivia = ask("playbook.run", via="api", role="operator", playbook="pb-1")
        ada = ask("playbook.run", via="api", role="operator", name="ada", playbook="pb-1")
        ready = Client().get("/readyz")

    # then
    assert revision == evaluated_here  # the command prints the revision the embedded engine would report
    assert (bundle / ".manifest").read_text() == f'{{"revision": "{revision}", "roots": [""]}}'
    assert (outcome(viewer), viewer.version) == (ROLES_DENIED, revision)
    assert outcome(olivia) == (False, "maestro.authz.playbook_runners",
                               "olivia may not run playbook pb-1 (runners: ada)")
    assert (outcome(ada), ada.version) == (ALLOWED, revision)
    assert [path for path, _ in opa.requests] == ["/v1/data/maestro/authz/decision"] * 4
    assert opa.requests[0][1]["input"]["subject"] == {"name": "olivia", "type": "api", "role": "viewer",
                                                      "via": "api"}
    assert opa.requests[0][1]["input"]["time"] == "2026-11-23T12:00:00.000000Z"
    assert opa.requests[0][1]["input"]["clock"] == {"weekday": "Monday", "hour": 12, "minute": 0}
    assert ready.status_code == 200
    assert ready.json()["checks"]["policy"] == f"ok (opa {opa.url}, {revision})"


def test_an_opa_server_that_cannot_answer_denies_and_readyz_says_so(db, tmp_path, settings):
    # given: nothing listens on the port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.MAESTRO_OPA_URL = f"http://127.0.0.1:{port}"
    # when
    verdict = ask("run.start", via="api", role="admin", workflow="deploy")
    ready = Client().get("/readyz")
    # then
    assert (verdict.allowed, verdict.policy_id) == (False, "policy_engine.unavailable")
    assert verdict.message.startswith(f"the policy engine could not answer: OPA at http://127.0.0.1:{port} did not "
                                      f"answer: ")
    assert (ready.status_code, ready.json()["details"]["failing"]) == (503, ["policy"])


def test_an_opa_server_slower_than_the_timeout_denies(tmp_path, settings):
    bundle, _ = _bundle(tmp_path)
    settings.MAESTRO_OPA_TIMEOUT_SECONDS = 0.2
    with OpaLike(bundle, delay=1.0) as opa:
        settings.MAESTRO_OPA_URL = opa.url
        verdict = ask("run.start", via="api", role="admin", workflow="deploy")
    assert (verdict.allowed, verdict.policy_id) == (False, "policy_engine.unavailable")
    assert verdict.message == f"the policy engine could not answer: OPA at {opa.url} did not answer: timed out"


def test_an_opa_server_without_maestros_bundle_denies(tmp_path, settings):
    # given: an OPA server with some other policy loaded
    other = tmp_path / "other"
    other.mkdir()
    (other / "p.rego").write_text("package other\nimport rego.v1\nallow := true\n")
    (other / "data.json").write_text("{}")
    with OpaLike(other) as opa:
        settings.MAESTRO_OPA_URL = opa.url
        verdict = ask("run.start", via="api", role="admin", workflow="deploy")
    assert (verdict.allowed, verdict.policy_id) == (False, "policy_engine.unavailable")
    assert verdict.message == (f"the policy engine could not answer: OPA at {opa.url} has no "
                               f"data.maestro.authz.decision (is the Maestro bundle loaded?)")
