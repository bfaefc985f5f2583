"""Demo history: a month of believable sends, reports and ingest runs for an empty database.

`history` plans who sent what and what became of it; `ingest_runs` adds the pull runs and raw
bodies behind the last hours. It may import `ingest.store` and the shared helpers.
"""
