"""The CIM reward: pure formulas and the Scorer over a gallery."""
