"""deploy/helm/maestro: the chart as Helm renders it (helm-python-sdk bundles Helm's own Go
library: the same engine as ``helm template``), every manifest validated against the
Kubernetes schemas, the pods' security and probes, the secrets, the migration hook, the
network policies, and checkov's scan (deploy/helm/checkov.yaml lists its skipped checks).

Rendered twice: with the default values (plus the one required value, the archive URL) and with
deploy/helm/examples/production-values.yaml."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml
from helm_python.errors import HelmRenderError

from maestro.queue import Queue

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "maestro"
PRODUCTION = ROOT / "deploy" / "helm" / "examples" / "production-values.yaml"
CHECKOV_CONFIG = ROOT / "deploy" / "helm" / "checkov.yaml"
CHECKOV_REQUIREMENTS = ROOT / "deploy" / "requirements-checkov.txt"
# The oldest Kubernetes the chart declares (Chart.yaml kubeVersion) and the newest schemas known.
KUBERNETES_VERSIONS = ["1.27.0", kubernetes_validate.latest_version()]
DEFAULT_VALUES = {"archive": {"url": "s3://maestro-test-archive/ledger"}}
# Credentials: only ever read from the existing Secret.
SECRET_ENV = {"MAESTRO_DATABASE_URL", "MAESTRO_REDIS_URL", "MAESTRO_SECRET_KEY", "MAESTRO_LEDGER_SIGNING_KEY",
              "MAESTRO_METRICS_TOKEN", "MAESTRO_SSO_CLIENT_SECRET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
WORKLOADS = {"Deployment", "Job"}


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; Kubernetes' own parser refuses them."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
        duplicates = {k for k in keys if keys.count(k) > 1}
        assert not duplicates, f"duplicate keys {duplicates} at {node.start_mark}"
        return super().construct_mapping(node, deep=deep)


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    files = helm_python.Chart.load(CHART).render(values, name="maestro", namespace="maestro", is_install=True)
    return [doc for path, text in sorted(files.items()) if path.endswith(".yaml")
            for doc in yaml.load_all(text, Loader=_UniqueKeyLoader) if doc]


def production_values() -> dict[str, Any]:
    return yaml.safe_load(PRODUCTION.read_text())


@pytest.fixture(scope="module")
def default() -> list[dict[str, Any]]:
    return render(DEFAULT_VALUES)


@pytest.fixture(scope="module")
def production() -> list[dict[str, Any]]:
    return render(production_values())


@pytest.fixture(params=["default", "production"])
def manifests(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return request.getfixturevalue(request.param)


def names(docs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((d["kind"], d["metadata"]["name"]) for d in docs)


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pods(docs: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for d in docs:
        if d["kind"] in WORKLOADS:
            yield d, d["spec"]["template"]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container["env"]}


COMMON = [("Ingress", "maestro"), ("ServiceAccount", "maestro"), ("ServiceAccount", "maestro-migrate"),
          ("Job", "maestro-migrate"), ("NetworkPolicy", "maestro-migrate"),
          ("Deployment", "maestro-web"), ("Service", "maestro-web"), ("HorizontalPodAutoscaler", "maestro-web"),
          ("PodDisruptionBudget", "maestro-web"), ("NetworkPolicy", "maestro-web"),
          ("Deployment", "maestro-scheduler"), ("PodDisruptionBudget", "maestro-scheduler"),
          ("NetworkPolicy", "maestro-scheduler")]


def test_default_values_render_these_manifests(default):
    assert names(default) == sorted(COMMON + [
        ("Deployment", "maestro-worker-all"), ("HorizontalPodAutoscaler", "maestro-worker-all"),
        ("PodDisruptionBudget", "maestro-worker-all"), ("NetworkPolicy", "maestro-worker-all")])


def test_production_values_render_these_manifests(production):
    workers = [(kind, f"maestro-worker-{group}") for group in ("sequencer", "steps", "background")
               for kind in ("Deployment", "PodDisruptionBudget", "NetworkPolicy")]
    # only the steps group autoscales
    assert names(production) == sorted(COMMON + workers + [("HorizontalPodAutoscaler", "maestro-worker-steps")])


def test_the_archive_url_is_required():
    # The image's filesystem is read-only: there is no local archive to fall back to.
    with pytest.raises(HelmRenderError, match="archive.url is required: s3://bucket/prefix"):
        render({})


def test_two_worker_groups_may_not_share_a_name():
    group = {"name": "x", "queues": "", "concurrency": 1, "replicas": 1, "terminationGracePeriodSeconds": 1,
             "resources": {}, "autoscaling": {"enabled": False}, "pdb": {"maxUnavailable": 1}}
    with pytest.raises(HelmRenderError, match='workers: the name "x" is used twice'):
        render({**DEFAULT_VALUES, "workers": [group, group]})


@pytest.mark.parametrize("values", ["default", "production"])
def test_helm_lint_finds_no_warning(values):
    report = helm_python.lint(CHART, DEFAULT_VALUES if values == "default" else production_values(), strict=True)
    assert report["errors"] == []
    # severity 1 is informational ("icon is recommended")
    assert [m for m in report["messages"] if m["severity"] > 1] == []


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_is_valid_against_the_kubernetes_schemas(manifests, version):
    for doc in manifests:
        kubernetes_validate.validate(doc, version, strict=True)  # raises on the first error


def test_every_manifest_is_in_the_release_namespace(manifests):
    assert {d["metadata"]["namespace"] for d in manifests} == {"maestro"}


def test_every_pod_runs_restricted_without_a_token(manifests):
    accounts = of_kind(manifests, "ServiceAccount")
    assert {name: sa["automountServiceAccountToken"] for name, sa in accounts.items()} == {
        "maestro": False, "maestro-migrate": False}
    checked = []
    for workload, template in pods(manifests):
        spec = template["spec"]
        assert spec["automountServiceAccountToken"] is False
        assert spec["serviceAccountName"] in accounts
        assert spec["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                           "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}}
        assert spec["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}]
        for c in spec["containers"]:
            assert c["securityContext"] == {
                "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                "runAsUser": 10001, "runAsGroup": 10001, "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"}}
            assert c["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
            assert set(c["resources"]["requests"]) == set(c["resources"]["limits"]) == {"cpu", "memory"}
        checked.append(workload["metadata"]["name"])
    assert len(checked) == len(of_kind(manifests, "Deployment")) + 1


def test_the_image_runs_as_the_user_the_pods_require():
    # The Dockerfile's runtime user is the chart's runAsUser (runAsNonRoot checks a numeric one).
    users = [line.split()[1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("USER ")]
    assert users == ["10001:10001"]


def test_each_process_is_started_by_its_command(production):
    deployments = of_kind(production, "Deployment")
    commands = {name: d["spec"]["template"]["spec"]["containers"][0]["command"] for name, d in deployments.items()}
    assert commands == {"maestro-web": ["bin/web"], "maestro-scheduler": ["bin/scheduler"],
                        "maestro-worker-sequencer": ["bin/worker"], "maestro-worker-steps": ["bin/worker"],
                        "maestro-worker-background": ["bin/worker"]}
    job = of_kind(production, "Job")["maestro-migrate"]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "python3", "manage.py", "migrate", "--noinput"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # one scheduler leads (advisory lock), one stands by
    assert deployments["maestro-scheduler"]["spec"]["replicas"] == 2


def test_the_worker_groups_consume_every_queue_kind(production):
    queues = {name: env_of(d["spec"]["template"]["spec"]["containers"][0])["MAESTRO_WORKER_QUEUES"]["value"]
              for name, d in of_kind(production, "Deployment").items() if name.startswith("maestro-worker-")}
    assert queues == {"maestro-worker-sequencer": "sequencer", "maestro-worker-steps": "steps,loops",
                      "maestro-worker-background": "default,periodic,bulk"}
    assert sorted(k for v in queues.values() for k in v.split(",")) == sorted(str(q) for q in Queue)


def test_the_web_probes_are_healthz_and_readyz(default, production):
    def probes(docs: list[dict[str, Any]]) -> dict[str, Any]:
        c = of_kind(docs, "Deployment")["maestro-web"]["spec"]["template"]["spec"]["containers"][0]
        return {kind: c[f"{kind}Probe"]["httpGet"] for kind in ("startup", "liveness", "readiness")}

    assert probes(default) == {"startup": {"path": "/healthz", "port": "http"},
                               "liveness": {"path": "/healthz", "port": "http"},
                               "readiness": {"path": "/readyz", "port": "http"}}
    # With MAESTRO_ALLOWED_HOSTS set, Django answers 400 to the kubelet's Host (the pod IP).
    host = [{"name": "Host", "value": "maestro.example.com"}]
    assert probes(production) == {"startup": {"path": "/healthz", "port": "http", "httpHeaders": host},
                                  "liveness": {"path": "/healthz", "port": "http", "httpHeaders": host},
                                  "readiness": {"path": "/readyz", "port": "http", "httpHeaders": host}}


def test_workers_and_schedulers_are_probed_by_command(production):
    ping = ["/bin/sh", "-c", 'exec celery -A maestro.celery inspect ping --destination "celery@$HOSTNAME" --timeout 10']
    checked = []
    for name, d in of_kind(production, "Deployment").items():
        if name == "maestro-web":
            continue
        c = d["spec"]["template"]["spec"]["containers"][0]
        checked.append(name)
        commands = {kind: c[f"{kind}Probe"]["exec"]["command"] for kind in ("startup", "liveness", "readiness")}
        if name.startswith("maestro-worker-"):
            assert commands == dict.fromkeys(("startup", "liveness", "readiness"), ping)
        elif name == "maestro-scheduler":
            beat = env_of(c)["MAESTRO_SCHEDULER_HEARTBEAT_FILE"]["value"]
            assert beat == "/tmp/maestro-scheduler.alive"
            assert commands == dict.fromkeys(("startup", "liveness", "readiness"),
                                             ["python3", "-m", "maestro.ops.heartbeat", beat, "60"])
    assert sorted(checked) == ["maestro-scheduler", "maestro-worker-background", "maestro-worker-sequencer",
                               "maestro-worker-steps"]


def test_credentials_come_only_from_the_existing_secret(manifests):
    assert of_kind(manifests, "Secret") == {}
    secret_name = "maestro-credentials" if len(of_kind(manifests, "Deployment")) > 3 else "maestro"
    for _, template in pods(manifests):
        env = env_of(template["spec"]["containers"][0])
        from_secret = {n: e["valueFrom"]["secretKeyRef"] for n, e in env.items() if "valueFrom" in e}
        assert set(from_secret) <= SECRET_ENV
        assert {"MAESTRO_DATABASE_URL", "MAESTRO_REDIS_URL", "MAESTRO_SECRET_KEY",
                "MAESTRO_LEDGER_SIGNING_KEY", "MAESTRO_METRICS_TOKEN"} <= set(from_secret)
        assert {ref["name"] for ref in from_secret.values()} == {secret_name}
        assert not [n for n, e in env.items() if n in SECRET_ENV and "value" in e]


def test_the_rendered_env_satisfies_the_production_settings(production, tmp_path):
    # given: the web pod's environment, its Secret references resolved with made-up values
    c = of_kind(production, "Deployment")["maestro-web"]["spec"]["template"]["spec"]["containers"][0]
    made_up = {"MAESTRO_SECRET_KEY": "k" * 50, "MAESTRO_DATABASE_URL": "postgres://m:pw@db.example:5432/maestro",
               "MAESTRO_REDIS_URL": "redis://redis.example:6379/0"}
    env = {e["name"]: e.get("value", made_up.get(e["name"], "from-the-secret")) for e in c["env"]}
    # when: Django loads the production settings with exactly that environment
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "print(s.ALLOWED_HOSTS, s.MAESTRO_ARCHIVE_URL, s.SSO_CLIENT_ID, s.DATABASES['default']['HOST'])")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False,
                            env={"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "maestro.settings",
                                 "MAESTRO_VAR_DIR": str(tmp_path), **env})
    # then: they load (no missing production secret), with the chart's values
    assert result.stderr == ""
    assert result.stdout == ("['maestro.example.com'] s3://example-maestro-ledger/production maestro "
                             "db.example\n")
    assert env["MAESTRO_ENV"] == "production"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability.svc:4318"


def test_tracing_and_policy_endpoints_are_passed_only_when_set(default):
    env = env_of(of_kind(default, "Deployment")["maestro-web"]["spec"]["template"]["spec"]["containers"][0])
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env and "MAESTRO_OPA_URL" not in env
    docs = render({**DEFAULT_VALUES, "config": {"allowedHosts": ["*"], "otlpEndpoint": "http://otel:4318",
                                                "opaUrl": "http://opa:8181"}})
    for _, template in pods(docs):
        env = env_of(template["spec"]["containers"][0])
        component = template["metadata"]["labels"]["app.kubernetes.io/component"]
        assert (env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"], env["MAESTRO_OPA_URL"]["value"]) == (
            "http://otel:4318", "http://opa:8181")
        assert env["OTEL_SERVICE_NAME"]["value"] == "maestro-" + component.split("-")[0]


def test_an_opa_server_is_reachable_and_the_operators_policies_are_mounted_when_given():
    values = {**DEFAULT_VALUES, "config": {"allowedHosts": ["*"], "opaUrl": "http://opa.policy:8181",
                                           "policyConfigMap": "maestro-policies"},
              "networkPolicy": {"egress": {"opa": {"to": [{"namespaceSelector": {"matchLabels": {
                  "kubernetes.io/metadata.name": "policy"}}}]}}}}
    docs = render(values)

    for _, template in pods(docs):
        container = template["spec"]["containers"][0]
        assert env_of(container)["MAESTRO_POLICY_DIR"]["value"] == "/etc/maestro/policies"
        assert {"name": "policies", "mountPath": "/etc/maestro/policies", "readOnly": True} in container["volumeMounts"]
        assert {"name": "policies", "configMap": {"name": "maestro-policies"}} in template["spec"]["volumes"]
    for policy in of_kind(docs, "NetworkPolicy").values():
        assert policy["spec"]["egress"][-1] == {
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "policy"}}}],
            "ports": [{"port": 8181, "protocol": "TCP"}]}
    for version in KUBERNETES_VERSIONS:
        for doc in docs:
            kubernetes_validate.validate(doc, version, strict=True)


def test_migrations_run_first_as_a_hook(manifests):
    hooks = {(d["kind"], d["metadata"]["name"]): d["metadata"]["annotations"] for d in manifests
             if "helm.sh/hook" in d["metadata"].get("annotations", {})}
    assert hooks == {
        ("ServiceAccount", "maestro-migrate"): {
            "helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": "-10",
            "helm.sh/hook-delete-policy": "before-hook-creation"},
        ("NetworkPolicy", "maestro-migrate"): {
            "helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": "-10",
            "helm.sh/hook-delete-policy": "before-hook-creation"},
        ("Job", "maestro-migrate"): {
            "helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": "0",
            "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"},
    }
    job = of_kind(manifests, "Job")["maestro-migrate"]
    # the hook's own account: the release's resources do not exist yet at pre-install
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "maestro-migrate"


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_each_pod_has_one_network_policy(manifests):
    policies = of_kind(manifests, "NetworkPolicy")
    for workload, template in pods(manifests):
        labels = template["metadata"]["labels"]
        selecting = [n for n, p in policies.items() if _selects(p["spec"]["podSelector"]["matchLabels"], labels)]
        assert selecting == [workload["metadata"]["name"]]
        assert policies[selecting[0]]["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert len(policies) == len(list(pods(manifests)))


def test_only_the_ingress_controller_reaches_the_web_pods(default, production):
    def ingress(docs: list[dict[str, Any]]) -> dict[str, Any]:
        return {n: p["spec"]["ingress"] for n, p in of_kind(docs, "NetworkPolicy").items()}

    nginx = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    rules = ingress(default)
    assert rules.pop("maestro-web") == [{"from": [nginx], "ports": [{"port": "http", "protocol": "TCP"}]}]
    assert rules == {"maestro-migrate": [], "maestro-scheduler": [], "maestro-worker-all": []}
    web = ingress(production)["maestro-web"]
    assert web == [{"from": [
        {**nginx, "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}}},
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        "ports": [{"port": "http", "protocol": "TCP"}]}]


def test_every_pod_reaches_only_its_dependencies(default, production):
    dns = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                   "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
           "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}

    def egress(docs: list[dict[str, Any]]) -> list[Any]:
        rules = [p["spec"]["egress"] for p in of_kind(docs, "NetworkPolicy").values()]
        assert all(r == rules[0] for r in rules)  # the same for every component
        return rules[0]

    # default: no OTLP collector nor archive peers are known, so neither is reachable
    assert egress(default) == [
        dns,
        {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 5432, "protocol": "TCP"}]},
        {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 6379, "protocol": "TCP"}]}]
    assert egress(production) == [
        dns,
        {"to": [{"ipBlock": {"cidr": "10.20.0.0/24"}}], "ports": [{"port": 5432, "protocol": "TCP"}]},
        {"to": [{"ipBlock": {"cidr": "10.20.1.0/24"}}], "ports": [{"port": 6379, "protocol": "TCP"}]},
        {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}}}],
         "ports": [{"port": 4317, "protocol": "TCP"}, {"port": 4318, "protocol": "TCP"}]},
        {"to": [{"ipBlock": {"cidr": "10.20.255.0/24"}}], "ports": [{"port": 443, "protocol": "TCP"}]},
        {"to": [{"ipBlock": {"cidr": "10.30.0.10/32"}}], "ports": [{"port": 443, "protocol": "TCP"}]}]


def test_the_ingress_carries_websockets_to_the_web_service(production):
    ingress = of_kind(production, "Ingress")["maestro"]
    backend = {"service": {"name": "maestro-web", "port": {"name": "http"}}}
    assert ingress["spec"]["rules"] == [{"host": "maestro.example.com", "http": {"paths": [
        {"path": "/ws", "pathType": "Prefix", "backend": backend},
        {"path": "/", "pathType": "Prefix", "backend": backend}]}}]
    assert ingress["spec"]["tls"] == [{"hosts": ["maestro.example.com"], "secretName": "maestro-tls"}]
    assert ingress["metadata"]["annotations"] == {
        "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
        "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
        "nginx.ingress.kubernetes.io/proxy-body-size": "1m"}
    service = of_kind(production, "Service")["maestro-web"]
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]


def test_autoscalers_and_disruption_budgets_match_their_deployments(manifests):
    deployments = of_kind(manifests, "Deployment")
    for name, hpa in of_kind(manifests, "HorizontalPodAutoscaler").items():
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert "replicas" not in deployments[name]["spec"]  # the autoscaler owns it
    for name, pdb in of_kind(manifests, "PodDisruptionBudget").items():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert _selects(pdb["spec"]["selector"]["matchLabels"], labels)
        matching = [n for n, d in deployments.items()
                    if _selects(pdb["spec"]["selector"]["matchLabels"], d["spec"]["template"]["metadata"]["labels"])]
        assert matching == [name]
    assert set(of_kind(manifests, "PodDisruptionBudget")) == set(deployments)


# --- checkov ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def checkov() -> Path:
    """checkov in a virtualenv of its own (its pins conflict with Maestro's), made once per
    version of deploy/requirements-checkov.txt under var/tools/."""
    digest = hashlib.sha256(CHECKOV_REQUIREMENTS.read_bytes()).hexdigest()[:12]
    venv = ROOT / "var" / "tools" / f"checkov-{digest}"
    done = venv / ".installed"
    if not done.exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "-r", str(CHECKOV_REQUIREMENTS)], check=True)
        done.touch()
    return venv / "bin" / "checkov"


def scan(checkov: Path, docs: list[dict[str, Any]], directory: Path, *, config: bool = True) -> dict[str, Any]:
    """checkov's findings on the manifests: with deploy/helm/checkov.yaml (its skipped checks), or
    with every check."""
    directory.mkdir()
    (directory / "rendered.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    options = ["--config-file", str(CHECKOV_CONFIG)] if config else ["--framework", "kubernetes"]
    # BC_SKIP_MAPPING: no request to checkov's vendor for its guideline links.
    result = subprocess.run([str(checkov), *options, "-d", str(directory), "--output", "json", "--quiet",
                             "--soft-fail"], capture_output=True, text=True, check=True,
                            env={**os.environ, "BC_SKIP_MAPPING": "TRUE"})
    report = json.loads(result.stdout)
    return {"failed": sorted({(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]}),
            "summary": report["summary"]}


def test_checkov_finds_nothing_unexplained(checkov, production, default, tmp_path):
    skipped = yaml.safe_load(CHECKOV_CONFIG.read_text())["skip-check"]
    assert skipped == ["CKV_K8S_35"]  # each one explained in checkov.yaml
    # production-like values: no finding, and nothing unparsed
    found = scan(checkov, production, tmp_path / "production")
    assert found["failed"] == []
    assert found["summary"]["parsing_errors"] == 0
    assert found["summary"]["resource_count"] > len(production)  # the pods inside the workloads too
    assert found["summary"]["passed"] > 300
    # every skipped check does find something without the skip (else it would not be listed)
    found = scan(checkov, production, tmp_path / "production-all", config=False)
    assert sorted({check for check, _ in found["failed"]}) == skipped
    # the default values pull the image by tag: checkov asks for a digest (image.digest), or
    # for pulling Always, and nothing else
    found = scan(checkov, default, tmp_path / "default")
    workloads = ["Deployment.maestro.maestro-scheduler", "Deployment.maestro.maestro-web",
                 "Deployment.maestro.maestro-worker-all", "Job.maestro.maestro-migrate"]
    assert found["failed"] == sorted((check, w) for check in ("CKV_K8S_15", "CKV_K8S_43") for w in workloads)
