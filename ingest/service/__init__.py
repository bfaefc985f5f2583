"""The HTTP edge (Starlette): the app factory, the push receiver, the relay, health and metrics.

The only room that speaks HTTP to the outside. It may import everything below it
(`ingest.store`, `ingest.yunpian`, the loops and the shared helpers); nothing imports it but
the commands.
"""
