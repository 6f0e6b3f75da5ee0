import logging

from maestro.core.context import current_request_id


class RequestIdFilter(logging.Filter):
    """Stamps every record with the request id of the request (or job) that caused it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id() or None
        return True
