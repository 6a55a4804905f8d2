"""OpenTelemetry tracing, optional: off unless OTEL_EXPORTER_OTLP_ENDPOINT is set, then FastAPI's
own instrumentation makes a span per request and exports it over OTLP/HTTP (the packages of
requirements-otel.txt), and each log line names its trace.

The end-to-end test runs a real server against a small OTLP collector of its own."""

import asyncio
import gzip
from collections.abc import AsyncIterator
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from app.main import telemetry_config
from tests.servers import poll_until


def test_tracing_is_off_without_an_otlp_endpoint():
    config = telemetry_config({})

    assert config["tracing"] is False
    assert config["auto_configure"] is False


@pytest.mark.parametrize(
    "variable", ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
)
def test_an_otlp_endpoint_turns_tracing_on_and_nothing_else(variable):
    config = telemetry_config({variable: "http://collector:4318"})

    assert config["tracing"] is True
    assert config["auto_configure"] is True
    # Prometheus has the metrics and our JSON lines the logs.
    assert config["metrics"] is False
    assert config["logs"] is False


def test_probes_make_no_spans():
    exclude = telemetry_config({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})["exclude"]

    assert exclude is not None
    assert [exclude({"path": path}) for path in ("/health", "/ready", "/metrics")] == [True] * 3
    assert exclude({"path": "/users/me"}) is False


class Collector:
    """Just enough of an OTLP/HTTP collector: keeps the spans POSTed to /v1/traces."""

    def __init__(self) -> None:
        self.spans: list[Any] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (
                        line.partition(":") for line in head.decode("latin-1").split("\r\n")[1:]
                    )
                    if name
                }
                body = await self._body(reader, headers)
                if headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                if head.startswith(b"POST /v1/traces "):
                    request = ExportTraceServiceRequest.FromString(body)
                    for resource in request.resource_spans:
                        for scope in resource.scope_spans:
                            self.spans.extend(scope.spans)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n"
                    b"Content-Length: 0\r\n\r\n"
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def _body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                body += await reader.readexactly(size + 2)
                body = body[:-2]
            await reader.readuntil(b"\r\n")
            return body
        return await reader.readexactly(int(headers.get("content-length", "0")))


@pytest.fixture
async def collector() -> AsyncIterator[Collector]:
    otlp = Collector()
    await otlp.start()
    yield otlp
    await otlp.stop()


async def test_with_an_endpoint_each_request_is_a_span_and_its_log_line_names_the_trace(
    serve, collector: Collector
):
    server = await serve(
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{collector.port}",
        OTEL_SERVICE_NAME="py-auth",
        OTEL_BSP_SCHEDULE_DELAY="50",  # milliseconds: export soon, not every 5 s
    )
    async with server.client() as http:
        await http.get("/health")
        assert (await http.get("/users/me")).status_code == 401

        async def exported() -> bool:
            return any(span.name == "GET /users/me" for span in collector.spans)

        await poll_until(exported, 20, "no span reached the collector")
    await server.stop()

    (span,) = [span for span in collector.spans if span.name == "GET /users/me"]
    attributes = {item.key: item.value for item in span.attributes}
    assert attributes["http.route"].string_value == "/users/me"
    assert attributes["http.response.status_code"].int_value == 401
    assert not [span for span in collector.spans if "/health" in span.name]
    (line,) = [line for line in server.log_lines() if line.get("route") == "/users/me"]
    assert line["trace_id"] == span.trace_id.hex()
