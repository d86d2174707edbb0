"""Stands in for the module whose import registers the NPU ops."""
