"""Search jobs: the outbox consumer that keeps the indexes in step (registered on import; the core
`outbox_drain` job and `outbox_sweep` cron deliver its events). No jobs or crons of its own."""

from arq.cron import CronJob
from arq.worker import Function

from search import sync

sync.register()

FUNCTIONS: list[Function] = []
CRONS: list[CronJob] = []
