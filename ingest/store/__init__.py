"""The database: schema, engine and migrations, writes, rollups, the pull spool, lookups.

Everything that reads or writes voicewatch's tables lives here; the dashboard reads through
it. It may import `ingest.yunpian` (the records it stores) and the shared helpers, never
`ingest.service`, the loops or the commands.
"""
