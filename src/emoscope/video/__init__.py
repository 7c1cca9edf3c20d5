"""Streaming video: frame source, tracking and smoothing, the analysis loop, output sinks."""
