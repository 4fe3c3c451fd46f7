"""Thin adapters that serve the one CIMScorer to RL trainers: TRL (in process), the HTTP client of `cim serve`,
and verl / OpenRLHF / EasyR1 reward functions (through the server, or in process)."""
