"""Dashboard fixtures: seeded databases, the served app and a headless browser."""

from tests.fixtures.browser import browser, dashboard_url  # noqa: F401
from tests.fixtures.dashboard import seeded, seeded_sqlite  # noqa: F401
