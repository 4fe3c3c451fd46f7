"""The paper's Figure 5 on the shapes world: GRPO from the base captioner with a 1k, 5k or 20k-scene gallery.

    .venv/bin/python experiments/gallery_scale.py [--seeds 0]

Galleries are built once and cached (shapes-<count>); every arm is evaluated with the default 20k reward.
Writes results/gallery_scale.json and .png; the headline JSON is the last line of stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from shapes_runs import run_arms  # noqa: E402

ARMS = {f"{n // 1000}k gallery": [f"gallery=shapes-{n}"] for n in (1000, 5000, 20000)}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    run_arms("gallery_scale", ARMS, parser.parse_args().seeds, "gallery size (GRPO from the base)")
