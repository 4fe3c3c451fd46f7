"""Evaluation: caption metrics with confidence intervals, paired comparisons, reports."""
