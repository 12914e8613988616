"""Checkpoints follow the run: a training killed on one machine resumes on another from the checkpoint it
uploaded to the remote home (moto's S3 server on 127.0.0.1)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from modelmill.config import ModelSpec, TrainSpec
from modelmill.storage.home import current_home
from modelmill.training import fine_tune as train_module
from modelmill.training.remote_checkpoints import uploaded_steps
from tests.object_store import S3Server
from tests.patience import patient

KEY = "remote-train-key"
TRAIN = """
import sys
from pathlib import Path
from modelmill.config import ModelSpec, TrainSpec
from modelmill.manifests import TokenizedManifest
from modelmill.training.fine_tune import fine_tune

tokens = TokenizedManifest.model_validate_json(Path(sys.argv[1]).read_text())
spec = TrainSpec.model_validate_json(Path(sys.argv[2]).read_text())
fine_tune(tokens, ModelSpec(name_or_path=sys.argv[3]), spec, Path(sys.argv[4]), Path(sys.argv[5]))
"""


def test_a_killed_training_resumes_on_another_machine_from_its_uploaded_checkpoint(
    tokens, tiny_model_dir, tmp_path, monkeypatch, s3_server: S3Server
):
    home = s3_server.new_home()
    for key, value in s3_server.env(home, tmp_path / "machine-a").items():
        monkeypatch.setenv(key, value)
    spec = TrainSpec(max_steps=400, batch_size=8, learning_rate=1e-3, eval_strategy="steps", eval_steps=4)
    output = Path("artifacts") / "train" / KEY / "model"
    (tmp_path / "tokens.json").write_text(tokens.model_dump_json())
    (tmp_path / "spec.json").write_text(spec.model_dump_json())
    # given a training on machine A, killed once it has uploaded a checkpoint
    process = subprocess.Popen(
        [sys.executable, "-c", TRAIN, str(tmp_path / "tokens.json"), str(tmp_path / "spec.json"), str(tiny_model_dir),
         str(tmp_path / "machine-a" / "work"), str(output)],
        env=os.environ.copy(), cwd=Path(__file__).parents[2], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + patient(240)
        while not uploaded_steps(current_home(), KEY):
            assert process.poll() is None, process.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint was uploaded"
            time.sleep(0.5)
        process.kill()
        process.wait()
    finally:
        process.kill()
    uploaded = uploaded_steps(current_home(), KEY)
    # the uploaded state names its best checkpoint by name: machine A's absolute path means nothing elsewhere
    import json

    state = json.loads(current_home().fs.cat(current_home().url(f"checkpoints/{KEY}/checkpoint-{uploaded[-1]}/"
                                                                 "trainer_state.json")))
    assert state["best_model_checkpoint"].startswith("checkpoint-") and "/" not in state["best_model_checkpoint"]
    # when the retry runs on machine B: another read cache, another working folder
    monkeypatch.setenv("MODELMILL_CACHE_DIR", str(tmp_path / "machine-b"))
    spec = spec.model_copy(update={"max_steps": uploaded[-1] + 8})
    manifest = train_module.fine_tune(tokens, ModelSpec(name_or_path=str(tiny_model_dir)), spec,
                                      tmp_path / "machine-b" / "work", output)
    # then it resumed from the newest uploaded checkpoint (its step count did not start at 0), and finished
    assert manifest.resumed_from == f"checkpoint-{uploaded[-1]}" and uploaded[-1] > 0
    assert current_home().published(output)
    assert len(uploaded_steps(current_home(), KEY)) <= 3, "old uploaded checkpoints are dropped (the best is kept)"


def test_a_checkpoint_resumed_on_another_machine_names_its_best_checkpoint_there(tmp_path, monkeypatch):
    """The state a training resumes from names the best checkpoint by this machine's path: the Trainer loads the
    best model at the end from it (a missing path only warns, and the last model would be kept)."""
    import json

    from modelmill.training.remote_checkpoints import restore_checkpoint

    checkpoints = tmp_path / "machine-b" / "checkpoints"
    for step in (4, 8):
        folder = checkpoints / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"w")
        (folder / "trainer_state.json").write_text(json.dumps({"best_model_checkpoint": "checkpoint-4",
                                                               "global_step": step}))
    resume = restore_checkpoint("key", checkpoints)
    assert resume == checkpoints / "checkpoint-8"
    state = json.loads((resume / "trainer_state.json").read_text())
    assert state["best_model_checkpoint"] == str(checkpoints / "checkpoint-4") and state["global_step"] == 8


def test_a_best_checkpoint_named_outside_the_checkpoints_folder_is_ignored(tmp_path):
    """A trainer state read from the bucket names a folder here only as `checkpoint-<step>`: `..`, an absolute
    path or another name is no best checkpoint, and nothing outside the checkpoints folder is read or written."""
    import json

    from modelmill.training.remote_checkpoints import restore_checkpoint

    checkpoints = tmp_path / "checkpoints"
    folder = checkpoints / "checkpoint-8"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"w")
    for hostile in ("checkpoint-4/..", "/etc", "../../outside", "checkpoint-²"):
        (folder / "trainer_state.json").write_text(json.dumps({"best_model_checkpoint": hostile, "global_step": 8}))
        assert restore_checkpoint("key", checkpoints) == folder
        assert json.loads((folder / "trainer_state.json").read_text())["best_model_checkpoint"] == hostile, hostile
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints"]
