"""The guard: send rules the relay applies before a send leaves, against toll fraud and pumping.

What lives here: the rule set and its TOML configuration (config.py, defaults.toml), the rules
as pure functions of one attempt and its recent history (rules.py), the live guard the relay
asks with a time budget, failing open (live.py), counters kept in the database so every relay
on it sees the same traffic (counters.py), the allow and block lists with their audit
(lists.py), replaying stored sends through a rule set (replay.py) and `voicewatch guard`
(cli.py).

It may import ingest.store, ingest.numbers, ingest.throttle, ingest.i18n, ingest.logs and
ingest.settings; never ingest.service (the relay calls in, the guard never calls out).
"""
