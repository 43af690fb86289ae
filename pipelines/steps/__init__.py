"""Beam-free document steps and recipes of each pipeline: plain functions on documents and arrays, testable alone."""
