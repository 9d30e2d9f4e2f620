"""Triggers: wants created on a schedule or when partitions become available (docs/triggers.md).

Pure decisions with the clock and the binary calls injected: which crons and templates
a trigger may have (``cron``, ``fields``: what the graph manifest and, in Starlark, the
rules accept), cron schedules in a timezone (``schedule``), what a trigger fires now
(``decide``), and the protocol of trigger binaries (``protocol``). The service runs them
(``databuild.service.triggers``).

This package module imports nothing, so ``databuild.graph`` can check crons and templates
with ``cron`` and ``fields`` (which import no graph code) while loading.
"""
