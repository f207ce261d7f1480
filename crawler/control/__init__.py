"""Run control: the start-up check, the extensions that stop, lock and pace a run, and
its progress line."""
