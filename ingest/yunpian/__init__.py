"""Yunpian's voice API as Python: the HTTP client, report parsing, form decoding, return codes.

What the wire says, and nothing else: this room knows no database and no web server. It may
import only the shared helpers at the top of `ingest` (numbers, settings, logs).
"""
