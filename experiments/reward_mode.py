"""Clean vs official reward mode: GRPO from the base captioner on 2,000 scenes that are rows of the gallery.

The release's training images are gallery rows and its reward does not exclude them, so a caption can
retrieve its own image (QIR +1 at rank 1). "official" reproduces that; "clean" (the default) never
retrieves the source's own item. Both arms train on the gallery's first 2,000 scenes (train_data
shapes-gallery) so that only the mode differs.

    .venv/bin/python experiments/reward_mode.py [--seeds 0]

Writes results/reward_mode.json and .png; the headline JSON is the last line of stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from shapes_runs import run_arms  # noqa: E402

ARMS = {mode: ["train_data=shapes-gallery", f"reward.mode={mode}"] for mode in ("clean", "official")}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    run_arms("reward_mode", ARMS, parser.parse_args().seeds, "reward mode, training on gallery scenes (GRPO from the base)")
