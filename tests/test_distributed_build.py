"""A gallery build sharded over 2 CPU processes by `accelerate launch` equals a one-process build."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from cim.gallery.store import Gallery

BIN = Path(sys.executable).parent


def test_two_process_build_equals_one_process_build(items_file, tmp_path):
    # One thread per process in both builds: convolution sums then run in the same order (bit-identical).
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    build = ["gallery", "build", "--items", str(items_file), "--image-size", "64", "--chunk-size", "4"]
    launch = [str(BIN / "accelerate"), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
              "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0", "-m", "cim.cli"]
    sharded = subprocess.run([*launch, *build, "--out", str(tmp_path / "sharded")], env=env, capture_output=True, text=True)
    assert sharded.returncode == 0, sharded.stderr[-3000:]
    assert sharded.stderr.count("embedding") >= 2  # both ranks reported progress on their shard
    single = subprocess.run([str(BIN / "cim"), *build, "--out", str(tmp_path / "single")], env=env, capture_output=True, text=True)
    assert single.returncode == 0, single.stderr[-3000:]
    a, b = Gallery.load(tmp_path / "sharded", verify=True), Gallery.load(tmp_path / "single", verify=True)
    assert a.ids == b.ids
    np.testing.assert_array_equal(a.text_emb, b.text_emb)
    np.testing.assert_array_equal(a.image_emb, b.image_emb)
    assert a.manifest.content_hash == b.manifest.content_hash
