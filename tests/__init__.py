"""Test suite: real components on 127.0.0.1 only."""
