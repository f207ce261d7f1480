"""The network side of a fetch: request guards (SSRF), raw response heads, content encodings."""
