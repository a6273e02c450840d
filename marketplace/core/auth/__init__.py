"""Identity and access: password login, short-lived JWTs, API keys, the request's actor."""
