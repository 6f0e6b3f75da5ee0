from django.test import Client


def test_metrics_exposes_prometheus_text(db):
    r = Client().get("/metrics")
    assert r.status_code == 200
    assert b"django_http_requests_latency_seconds_by_view_method" in r.content


def test_metrics_report_queue_depth_from_the_broker(db, settings):
    import redis

    if not settings.REDIS_URL:
        import pytest

        pytest.skip("needs Redis")
    settings.MAESTRO_METRIC_QUEUES = ["maestro-test-depth"]
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete("maestro-test-depth")
    client.rpush("maestro-test-depth", "a", "b", "c")
    try:
        r = Client().get("/metrics")
        assert b'maestro_queue_depth{queue="maestro-test-depth"} 3.0' in r.content
    finally:
        client.delete("maestro-test-depth")


def test_dev_and_test_metrics_are_open_without_a_token(db, settings):
    # given: no MAESTRO_METRICS_TOKEN outside production
    settings.MAESTRO_METRICS_TOKEN = ""

    # when / then
    assert Client().get("/metrics").status_code == 200


def test_a_token_set_outside_production_is_required_too(db, settings):
    # given
    settings.MAESTRO_METRICS_TOKEN = "scrape-" + "k" * 40

    # when
    refused = [Client().get("/metrics"), Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-")]
    served = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {settings.MAESTRO_METRICS_TOKEN}")

    # then
    assert [(r.status_code, r.json()["code"], r["WWW-Authenticate"]) for r in refused] == [
        (401, "UNAUTHORIZED", 'Bearer realm="maestro"')] * 2
    assert served.status_code == 200 and b"maestro_queue_depth" in served.content


def test_each_request_counts_once_under_its_view_method_and_status(viewer_client, project):
    from prometheus_client import REGISTRY

    def count(status: str) -> float:
        return REGISTRY.get_sample_value("django_http_responses_total_by_status_view_method_total", {
            "status": status, "view": "orchestration.work.api.projects.ProjectDetailView", "method": "GET"}) or 0.0

    def observed() -> float:
        return REGISTRY.get_sample_value("django_http_requests_latency_seconds_by_view_method_count", {
            "view": "orchestration.work.api.projects.ProjectDetailView", "method": "GET"}) or 0.0

    # given
    before = (count("200"), count("404"), observed())

    # when: three reads, one of a project that is not there
    answers = [viewer_client.get(f"/api/projects/{p}").status_code for p in (project.id, project.id, "proj_nope")]

    # then: each counted once, under its own status
    assert answers == [200, 200, 404]
    assert (count("200"), count("404"), observed()) == (before[0] + 2, before[1] + 1, before[2] + 3)
