"""`cim train grpo` under `accelerate launch --num_processes 2` on CPU (gloo): in-process and through
`cim serve`; each rank scores only its own completions, the run folder is written once, a resume works."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.serving import process_server
from tests.test_serve import metric

BIN = Path(sys.executable).parent
PROMPTS, GENERATIONS, STEPS, RANKS = 2, 2, 2, 2
LAUNCH = [str(BIN / "accelerate"), "launch", "--multi_gpu", "--num_processes", str(RANKS), "--num_machines", "1",
          "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0", "-m", "cim.cli"]  # fmt: skip


def grpo(out: Path, gallery: Path, *extra: str) -> subprocess.CompletedProcess:
    recipe = ["--recipe", "shapes-tiny", "--out", str(out), "--set", f"gallery={gallery}", "--set", "train_scenes=8",
              "--set", f"grpo.prompts_per_step={PROMPTS}", "--set", f"grpo.num_generations={GENERATIONS}",
              "--set", "grpo.max_completion_length=12", "--set", f"grpo.max_steps={STEPS}",
              "--set", "grpo.save_steps=1", "--set", "grpo.logging_steps=1"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run([*LAUNCH, "train", "grpo", *recipe, *extra], env=env, capture_output=True, text=True, timeout=600)


def test_two_ranks_train_in_process_and_resume(shapes_gallery, tmp_path):
    out = tmp_path / "run"
    done = grpo(out, shapes_gallery)
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.count("trained policy:") == RANKS  # every rank finishes and returns the same folder
    assert (out / "final" / "config.json").is_file() and (out / "final" / "processor_config.json").is_file()
    assert sorted(p.name for p in (out / "checkpoints").glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    logs = json.loads((out / "log_history.json").read_text())
    steps = [entry["step"] for entry in logs if "rewards/cim_grc/mean" in entry]
    assert steps == [1, 2]  # one log, from the main process: no duplicated entries

    shutil.rmtree(out / "final")
    shutil.rmtree(out / "checkpoints" / "checkpoint-2")  # as if killed after the first checkpoint
    resumed = grpo(out, shapes_gallery, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert (out / "final" / "config.json").is_file()
    logs = json.loads((out / "log_history.json").read_text())
    assert [entry["step"] for entry in logs if "rewards/cim_grc/mean" in entry] == [1, 2]


def test_two_ranks_score_their_own_completions_through_cim_serve(shapes_gallery, tmp_path):
    with process_server(shapes_gallery) as (_, url):
        done = grpo(tmp_path / "run", shapes_gallery, "--reward-url", url)
        assert done.returncode == 0, done.stderr[-4000:]
        requests = metric(url, "cim_requests_total", endpoint="/v1/score", status="200")
        items = metric(url, "cim_items_scored_total")
    assert requests == RANKS * STEPS  # one /v1/score request per rank and step
    assert 0 < items <= RANKS * STEPS * PROMPTS * GENERATIONS  # each request holds only its rank's completions
    assert items <= requests * PROMPTS * GENERATIONS
