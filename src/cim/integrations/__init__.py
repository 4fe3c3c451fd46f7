"""Thin adapters that serve the one CIMScorer to RL trainers (TRL, ...)."""
