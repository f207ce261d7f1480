"""The status line and header lines of each response exactly as the server sent them.

A WARC response record should hold the response as received. Scrapy's response cannot give
that back:
- Twisted takes the connection-control headers (`Transfer-Encoding`, `Content-Length`,
  `Connection`, `Keep-Alive`) out of the headers before Scrapy sees them;
- header names lose their case and their order;
- the reason phrase is dropped (`200 Everything Is Fine` would come back as `200 OK`).

So this download handler records the raw lines as Twisted's parser reads them. It is Scrapy's
own HTTP/1.1 handler, with a parser that keeps the lines and an agent that passes them on to the
request (`request.meta["_raw_head"]`, a `RawHead`), which pipelines.warc pops at
`response_downloaded`, before any middleware could copy the meta into a follow-up request.
Responses from other handlers (HTTP/2, data:, file:) have none, and the WARC writer falls back
to Scrapy's headers for them.

Enabled in settings.py through DOWNLOAD_HANDLERS for http and https.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from scrapy.core.downloader.handlers.http11 import (
    HTTP11DownloadHandler,
    _LenientHTTP11ClientFactory,
    _LenientHTTP11ClientProtocol,
    _LenientHTTPClientParser,
    _ScrapyAgent,
)
from scrapy.exceptions import ResponseDataLossError
from scrapy.http import Request, Response
from scrapy.utils._download_handlers import get_dataloss_msg, wrap_twisted_exceptions
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.web._newclient import STATUS

logger = logging.getLogger(__name__)

MAX_RAW_LINES = 1000  # a pathological header flood is not kept whole (the parser still reads it)


@dataclass(frozen=True)
class RawHead:
    """A response's status line and header lines, as bytes off the wire (CR LF removed)."""

    status_line: bytes
    header_lines: tuple[bytes, ...]

    def headers(self) -> list[tuple[str, str]]:
        """(name, value) pairs in order, continuation lines folded into their header."""
        pairs: list[tuple[str, str]] = []
        for line in self.header_lines:
            text = line.decode("latin-1")
            if text[:1] in (" ", "\t") and pairs:
                name, value = pairs[-1]
                pairs[-1] = (name, f"{value} {text.strip()}")
            elif ":" in text:
                name, value = text.split(":", 1)
                pairs.append((name.strip(), value.strip()))
        return pairs

    @property
    def protocol_status_reason(self) -> tuple[str, str, str]:
        parts = self.status_line.decode("latin-1").split(" ", 2)
        parts += [""] * (3 - len(parts))
        return parts[0], parts[1], parts[2]


class RecordingParser(_LenientHTTPClientParser):
    """Scrapy's lenient parser, keeping each status and header line as it arrives."""

    def lineReceived(self, line: bytes) -> None:
        lines: list[bytes] = self.__dict__.setdefault("raw_lines", [])
        if self.state == STATUS:
            lines.clear()  # a 1xx interim response's lines are replaced by the final one's
        if len(lines) < MAX_RAW_LINES:
            lines.append(line.removesuffix(b"\r"))
        super().lineReceived(line)


class RecordingProtocol(_LenientHTTP11ClientProtocol):
    def request(self, request: Any) -> Any:
        deferred = super().request(request)
        parser = self._parser
        if parser is not None:
            parser.__class__ = RecordingParser  # as Scrapy's own protocol swaps in its parser

            def attach(response: Any) -> Any:
                lines = [line for line in parser.__dict__.get("raw_lines", []) if line]
                if lines:
                    response._raw_head = RawHead(lines[0], tuple(lines[1:]))
                return response

            deferred.addCallback(attach)
        return deferred


class RecordingFactory(_LenientHTTP11ClientFactory):
    def buildProtocol(self, addr: Any) -> RecordingProtocol:
        return RecordingProtocol(self._quiescentCallback)  # type: ignore[no-untyped-call]


RAW_HEAD_META_KEY = "_raw_head"


class RecordingAgent(_ScrapyAgent):
    def _cb_bodyready(self, txresponse: Any, request: Request) -> Any:
        # Scrapy's responses take no new attributes (__slots__): the request carries it to
        # the `response_downloaded` signal, whose handler pops it (pipelines.warc)
        request.meta[RAW_HEAD_META_KEY] = getattr(txresponse, "_raw_head", None)
        return super()._cb_bodyready(txresponse, request)


class RawHeadHTTP11DownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler, each response's raw head left in its request's meta."""

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self._pool._factory = RecordingFactory

    async def download_request(self, request: Request) -> Response:
        # Scrapy 2.19's own method, which builds its agent inline: here the recording agent.
        agent = RecordingAgent(
            contextFactory=self._contextFactory,
            bindAddress=self._bind_address,
            pool=self._pool,
            maxsize=self._default_maxsize,
            warnsize=self._default_warnsize,
            fail_on_dataloss=self._fail_on_dataloss,
            crawler=self._crawler,
            tls_verbose_logging=self._tls_verbose_logging,
        )
        try:
            with wrap_twisted_exceptions():
                return await maybe_deferred_to_future(agent.download_request(request))
        except ResponseDataLossError:
            if not self._fail_on_dataloss_warned:
                logger.warning(get_dataloss_msg(request.url))
                self._fail_on_dataloss_warned = True
            raise
