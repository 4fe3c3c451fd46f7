"""The paper's Figure 4 on the shapes world: GRPO from the base captioner with GRC only, QIR only, or both.

    .venv/bin/python experiments/reward_ablation.py [--seeds 0]

"both" is the main table's CIM run (shared, trained once). Writes results/reward_ablation.json and .png;
the headline JSON is the last line of stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from shapes_runs import run_arms  # noqa: E402

ARMS = {"GRC only": ["grpo.components=[grc]"], "QIR only": ["grpo.components=[qir]"], "both": []}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    run_arms("reward_ablation", ARMS, parser.parse_args().seeds, "reward components (GRPO from the base)")
