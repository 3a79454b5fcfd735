"""Talking to LLMs through any OpenAI-compatible endpoint: the one client the judge scorer and generation share.

- `client.py`: endpoint URLs, the key from the environment (never stored), requests with retries and backoff
  (honouring `Retry-After`), timeouts, token counts for estimates;
- `cache.py`: every request and its response kept by content in the workspace, so a rerun pays nothing twice.
"""
