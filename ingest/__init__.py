"""voicewatch ingest: Yunpian voice client, simulator, storage, pull loop and HTTP service."""
