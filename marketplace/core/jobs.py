"""Core jobs: outbox draining, the outbox sweeper, audit chaining and checkpoints."""

FUNCTIONS: list = []
CRONS: list = []
