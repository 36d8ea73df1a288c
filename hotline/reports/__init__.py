"""Supervisor reports: counts, backlog, response times, charts and CSV export."""
