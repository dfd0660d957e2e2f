"""Smoke test of examples/reproduce_paper.py: its --quick mode runs end to end."""

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "reproduce_paper.py"
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def _run(out, *extra):
    env = dict(os.environ)
    if importlib.util.find_spec("sklearn_bsp") is None:
        # Not installed: run from the source tree.
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), env.get("PYTHONPATH")) if p
        )
    # The real data when installed, scikit-learn's digits otherwise.
    dataset = "fashion-mnist" if FASHION_MNIST.is_dir() else "digits"
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--dataset", dataset]
        + ["--out", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_reproduce_paper_quick(tmp_path):
    result = _run(tmp_path)
    assert result.returncode == 0, result.stderr
    checkpoints = {p: p.stat().st_mtime_ns for p in tmp_path.glob("n*/h*/*.json")}

    runs = sorted(tmp_path.glob("n*/h*/*-seed*.json"))
    assert {p.stem for p in runs} == {
        f"{net}-seed{seed}" for net in ("initial", "dropout", "bsp") for seed in (0, 1)
    }
    for path in runs:
        run = json.loads(path.read_text())
        n = len(run["epochs"])
        assert n == run["config"]["epochs"] == 40
        assert len(run["times"]) == len(run["scores"]) == len(run["compressions"]) == n
        assert all(b >= a for a, b in zip(run["times"], run["times"][1:]))
        assert 0.0 <= run["accuracy"] <= 1.0
        if run["config"]["network"] == "initial":
            assert run["accuracy"] > 0.2  # chance is 0.1
        assert 0.0 <= run["compression"] < 1.0
        hist = run["histogram"]
        assert sum(hist["counts"]) == hist["n_alive"]
        assert hist["n_alive"] + hist["n_pruned"] == hist["n_synapses"]
        if run["config"]["network"] == "bsp":
            # --quick uses patience 5, so pruning starts within the run.
            assert run["compression"] > 0
            assert hist["n_pruned"] > 0
        else:
            assert run["compression"] == 0
            assert hist["n_pruned"] == 0

    with open(tmp_path / "summary.csv") as f:
        (row,) = list(csv.DictReader(f))
    for network in ("initial", "dropout", "bsp"):
        assert 0.0 <= float(row[f"acc_{network}"]) <= 1.0
    assert 0 < float(row["compression"]) < 1
    for key in ("L_initial_epochs", "L_dropout_epochs", "L_initial_seconds"):
        assert float(row[key]) > 0
    assert "list-table" in (tmp_path / "summary.rst").read_text()

    # A second call finds every run checkpointed and trains nothing
    # (dropout-choice.json is rewritten with the same content).
    result = _run(tmp_path, "--no-plots")
    assert result.returncode == 0, result.stderr
    for path, mtime in checkpoints.items():
        if "choice" not in path.name:
            assert path.stat().st_mtime_ns == mtime, path.name

    pytest.importorskip("matplotlib")
    for name in ("test_error", "weight_histograms", "compression"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
