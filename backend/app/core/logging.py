"""Logging through the standard logging module: JSON lines in production, readable lines in
development (LOG_FORMAT=console), each with the request id of the request that wrote it."""

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Loggers of the server, which install handlers of their own: send them through ours.
SERVER_LOGGERS = ("uvicorn", "uvicorn.error")
# uvicorn's access log repeats our request line, with the raw query string: kept off. uvicorn
# writes it only when this logger has a handler, its own or an ancestor's.
ACCESS_LOGGER = "uvicorn.access"
# Libraries that log every query with its parameters (password hashes, token hashes, emails)
# at DEBUG or INFO: never below WARNING, whatever LOG_LEVEL says.
PARAMETER_LOGGERS = ("aiosqlite", "asyncpg", "sqlalchemy")


def _stamp_request_id(factory: Any) -> Any:
    """A LogRecord factory that stamps each record with the request id when it is made, so
    that a handler formatting it later (a queue, a test's capture) still knows the request."""

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = factory(*args, **kwargs)
        record.request_id = request_id_var.get()
        # With tracing on (OTEL_EXPORTER_OTLP_ENDPOINT), the line names its trace and span.
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            record.trace_id = format(span.trace_id, "032x")
            record.span_id = format(span.span_id, "016x")
        return record

    make_record.stamps_request_id = True  # type: ignore[attr-defined]
    return make_record


def _trace_fields(record: logging.LogRecord) -> dict[str, str]:
    trace_id = getattr(record, "trace_id", None)
    return {"trace_id": trace_id, "span_id": getattr(record, "span_id", "")} if trace_id else {}


def log_fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = getattr(record, "fields", {})
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            **_trace_fields(record),
            **log_fields(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # json.dumps escapes CR, LF and control characters: no value can forge a line.
        return json.dumps(entry, default=str)


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        time = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        fields = " ".join(f"{key}={value!r}" for key, value in log_fields(record).items())
        # repr() of the message escapes control characters, as JSON does.
        message = repr(record.getMessage())[1:-1]
        line = f"{time} {record.levelname:<7} {record.name}: {message} {fields}".rstrip()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str, log_format: str = "json") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(ConsoleFormatter() if log_format == "console" else JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in SERVER_LOGGERS:
        server_logger = logging.getLogger(name)
        server_logger.handlers[:] = []
        server_logger.propagate = True
    access_logger = logging.getLogger(ACCESS_LOGGER)
    access_logger.handlers[:] = []
    access_logger.propagate = False
    for name in PARAMETER_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "stamps_request_id", False):
        logging.setLogRecordFactory(_stamp_request_id(factory))
