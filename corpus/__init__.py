"""The researcher's side: list, download, deduplicate, export and report on archived runs."""
