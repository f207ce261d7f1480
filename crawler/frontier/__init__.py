"""What to fetch next and what was fetched: seen-stores, schedulers, the job dir, and
distributed crawls."""
