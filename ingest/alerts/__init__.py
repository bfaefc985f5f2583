"""On-call alerts: rules (alerts.toml), their measurement over the database, their states
(pending → firing → resolved, silences, grouping), and the channels that carry them (Apprise).

It may import `ingest.store`, `ingest.yunpian` and the shared helpers (`ingest.settings`,
`ingest.numbers`, `ingest.logs`); never `ingest.service`, the other loops or the commands.
`voicewatch alerts run` (ingest/alerts/cli.py) is its loop.
"""
