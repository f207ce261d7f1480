"""Store what was fetched and understood: WARC capture, text shards, archive storage."""
