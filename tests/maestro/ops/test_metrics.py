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
