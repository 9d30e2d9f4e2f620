"""Triggers: wants created on a schedule or when partitions become available (docs/triggers.md).

Pure decisions with the clock and the binary calls injected: cron schedules in a
timezone (``schedule``), want templates (``templates``), what a trigger fires now
(``decide``), and the protocol of trigger binaries (``protocol``). The service runs them
(``databuild.service.triggers``).

This package module imports nothing, so ``databuild.graph`` can check crons and templates
with ``schedule`` and ``templates`` (which import no graph code) while loading.
"""
