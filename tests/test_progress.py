"""Progress a user can see anywhere: plain lines where output is a log file, a live bar on a terminal."""

import io
import os
import re
import subprocess
import sys
from pathlib import Path

from cim.progress import ProgressLines, on_terminal, progress_line

BIN = Path(sys.executable).parent
LINE = re.compile(r"^(?P<stage>[^:]+): (?P<done>\d+)/(?P<total>\d+) \((?P<pct>\d+)%\)(, (?P<rate>[\d.]+)/s)?(, ETA \S+)?$")


def test_a_line_names_the_stage_the_counts_the_rate_and_the_eta():
    assert progress_line("building gallery", 6400, 20000, 100.0) == "building gallery: 6400/20000 (32%), 64.00/s, ETA 3m32s"
    assert progress_line("scoring", 10, 10, 2.0) == "scoring: 10/10 (100%), 5.00/s"
    assert progress_line("scoring", 7, None, 2.0) == "scoring: 7, 3.50/s"
    assert progress_line("steps", 1, 150, 0.0) == "steps: 1/150 (1%)"
    assert progress_line("steps", 1, 7201, 1.0).endswith("ETA 2h00m")


def test_lines_are_rate_limited_but_a_stage_s_first_and_last_report_always_print():
    stream = io.StringIO()
    report = ProgressLines(stream, every=3600)
    for done in range(1, 11):
        report("a", done, 10)
    for done in range(1, 4):
        report("b", done, None)
    assert stream.getvalue().splitlines()[0].startswith("a: 1/10 (10%)")
    assert [line.split(",")[0] for line in stream.getvalue().splitlines()] == ["a: 1/10 (10%)", "a: 10/10 (100%)", "b: 1"]
    every = io.StringIO()
    unlimited = ProgressLines(every, every=0)
    for done in range(1, 6):
        unlimited("a", done, 5)
    assert len(every.getvalue().splitlines()) == 5


def test_the_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("CIM_PROGRESS_EVERY", "2.5")
    assert ProgressLines().every == 2.5
    assert not on_terminal(io.StringIO())


def test_long_commands_writing_to_a_file_print_progress_lines(items_file, tmp_path):
    env = {**os.environ, "CIM_PROGRESS_EVERY": "0", "HF_HUB_OFFLINE": "1"}
    log = tmp_path / "build.log"
    with log.open("w") as stream:
        done = subprocess.run([str(BIN / "cim"), "gallery", "build", "--items", str(items_file), "--out", str(tmp_path / "g"),
                               "--image-size", "64", "--chunk-size", "4"], env=env, stdout=stream, stderr=stream)  # fmt: skip
    text = log.read_text()
    assert done.returncode == 0, text[-3000:]
    lines = [m for m in map(LINE.match, text.splitlines()) if m]
    assert len(lines) >= 6, text[-3000:]  # 24 items in chunks of 4: a line per chunk
    assert lines[-1]["done"] == lines[-1]["total"] == "24" and lines[-1]["pct"] == "100"
    assert "\r" not in text and "\x1b[" not in text  # no live-bar redraws or colour codes in a log

    train_log = tmp_path / "sft.log"
    with train_log.open("w") as stream:
        trained = subprocess.run([str(BIN / "cim"), "train", "sft", "--recipe", "shapes-tiny-sft", "--out", str(tmp_path / "sft"),
                                  "--set", "train_scenes=12", "--set", "sft.batch_size=4", "--set", "sft.max_steps=3"],
                                 env=env, stdout=stream, stderr=stream)  # fmt: skip
    text = train_log.read_text()
    assert trained.returncode == 0, text[-3000:]
    steps = [m for m in map(LINE.match, text.splitlines()) if m and m["stage"] == "SFT steps"]
    assert [m["done"] for m in steps] == ["1", "2", "3"] and {m["total"] for m in steps} == {"3"}, text[-3000:]
