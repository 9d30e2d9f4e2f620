"""DataBuild: partition-oriented, declarative data builds inside Bazel."""

__version__ = "0.1.0"
