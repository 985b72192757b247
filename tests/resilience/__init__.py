"""Fault tests: a live gunicorn on private PostgreSQL and SeaweedFS instances that the tests break and repair."""
