"""Predicted saliency against ground truth: the published metrics and per-video evaluation
tables and plots."""
