"""Triggers: what creates wants on a schedule or when partitions land (docs/triggers.md).

This package's modules are imported by ``databuild.graph.manifest`` to validate a
graph's triggers, so this file imports nothing: a module here that needs the graph
must not be pulled in by ``import databuild.triggers``.
"""
