"""A remedy for relation hallucination: the CIM reward with layout-aware (2×2 grid) image features.

With globally pooled EfficientNet features the reward barely tells a right relation from a wrong one
(validation study part 3: relation-swap gap −0.004 ± 0.004, grid2 +0.018 ± 0.006), and CIM-GRPO learns to
state many relations, half of them wrong. This arm trains with the grid2 gallery instead (everything else
as in the main table's CIM run) and is compared with it.

    .venv/bin/python experiments/reward_remedy.py [--seeds 0]

Writes results/reward_remedy.json and .png; the headline JSON is the last line of stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from shapes_runs import run_arms  # noqa: E402

ARMS = {"global (paper)": [], "grid2": ["gallery=shapes-20000-grid2"]}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    run_arms("reward_remedy", ARMS, parser.parse_args().seeds, "image pooling of the reward (GRPO from the base)")
