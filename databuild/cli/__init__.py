"""The command line of a generated ``<graph>.build`` binary."""
