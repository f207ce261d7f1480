"""warcio reads Brotli records again (#13): a decompressor for `Content-Encoding: br` that works
with the `brotli` module Scrapy installs.

warcio 1.8.1 registers ``br`` at import whenever ``import brotli`` succeeds, but its factory is
written for brotlipy: it sets ``unused_data`` on the decompressor and calls ``decompress()`` and
``flush()``. Google's Brotli (the ``brotli`` distribution, which Scrapy >= 2.19 requires on
CPython) has a C ``Decompressor`` with ``process()``, ``is_finished()`` and no attribute slots,
so every reader of a WARC with a Brotli response (``warcio check``, ``content_stream()``, py-wacz
page detection, our re-extraction) dies with ``AttributeError: 'brotli.Decompressor' object has
no attribute 'unused_data'``. brotlipy cannot be installed instead: it is the same ``brotli``
module name, unmaintained, and lacks ``process(output_buffer_limit=)``, which Scrapy's own
``br`` decoding uses. warcio 1.8.2 registers ``br`` only through brotlicffi (not installed
here, by the same reasoning), so without this module it reads br payloads still compressed.

Importing this module replaces warcio's ``br`` factory with :class:`WarcioBrotliDecompressor`
when (and only when) warcio's own one is missing or broken, so a fixed warcio is left alone.
`python -m crawler.net.encodings check|index|extract ...` is warcio's CLI with the fix loaded;
in the project's virtualenv warcio's own command line loads it too (crawler/net/warcio_hook.py).

zstd needs nothing: warcio does not know it, so it reads such records as they were stored
(digests are over the stored bytes and pass).
"""

from __future__ import annotations

import sys

import brotli
from warcio.bufferedreaders import BufferedReader

# Output produced per `process()` call, and at most per block warcio feeds in (16 KiB read from
# the record): a Brotli bomb inflates 300 bytes into 200 MiB, gzip tops out near 1:1000, so
# 64 MiB per block is far beyond any honest page and bounds memory on a hostile one.
_CHUNK = 1024 * 1024
MAX_OUTPUT_PER_BLOCK = 64 * 1024 * 1024


class WarcioBrotliDecompressor:
    """The zlib-style face warcio's BufferedReader expects (``decompress``, ``unused_data``,
    ``flush``) on Google's streaming ``brotli.Decompressor``."""

    # A Brotli stream carries no members after its end, so nothing is left over for warcio
    # to start a next member with (falsy: warcio keeps reading while it needs more input).
    unused_data = b""

    def __init__(self) -> None:
        self._decoder = brotli.Decompressor()

    def decompress(self, data: bytes) -> bytes:
        if self._decoder.is_finished():
            return b""  # bytes after the stream's end: read (digests cover them), not decoded
        out: list[bytes] = []
        size = 0
        chunk = self._decoder.process(data, output_buffer_limit=_CHUNK)
        while chunk:
            size += len(chunk)
            if size > MAX_OUTPUT_PER_BLOCK:
                raise brotli.error(
                    f"brotli: over {MAX_OUTPUT_PER_BLOCK} bytes out of {len(data)} bytes in"
                )
            out.append(chunk)
            if self._decoder.is_finished():
                break
            chunk = self._decoder.process(b"", output_buffer_limit=_CHUNK)
        return b"".join(out)

    def flush(self) -> bytes:
        return b""


def _stock_brotli_works() -> bool:
    factory = BufferedReader.DECOMPRESSORS.get("br")
    if factory is None:
        return False
    try:
        decompressor = factory()
        return callable(getattr(decompressor, "decompress", None)) and hasattr(
            decompressor, "unused_data"
        )
    except Exception:  # warcio 1.8 + Google's brotli: AttributeError on `unused_data`
        return False


def install() -> bool:
    """Make warcio decode ``br`` payloads; True when our decompressor is (now) the one used."""
    if BufferedReader.DECOMPRESSORS.get("br") is WarcioBrotliDecompressor:
        return True
    if _stock_brotli_works():
        return False
    BufferedReader.DECOMPRESSORS["br"] = WarcioBrotliDecompressor
    return True


install()


if __name__ == "__main__":
    from warcio.cli import main

    sys.exit(main(sys.argv[1:]))
