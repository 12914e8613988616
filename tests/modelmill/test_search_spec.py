"""The `search` section: only fields of `train`, ranges that `train` accepts, errors with their YAML path; the trial
count from `--set search.trials` or the form; and what a trial trains with."""

from __future__ import annotations

import pytest

from modelmill.config import TrainSpec, load_pipelines, parse_cli_overrides
from modelmill.config.search import SearchSpec
from modelmill.manifests import ModelManifest
from modelmill.runtime.errors import ConfigError
from modelmill.search.runners import gpus_per_trial, refuse_remote_pruning
from modelmill.search.study import SearchFailed, objective_value, trial_train
from tests.conftest import pipeline_dict

SPACE = {"learning_rate": {"log_uniform": [1e-5, 1e-3]}, "epochs": {"choice": [2, 3]}}


@pytest.mark.parametrize(("space", "message"), [
    ({"nope": {"choice": [1]}}, "search.space: 'nope' is not a field of `train` that can be searched"),
    ({"processes": {"choice": [2]}}, "'processes' is not a field of `train` that can be searched"),
    ({"metric_for_best_model": {"choice": ["loss"]}}, "'metric_for_best_model' is not a field of `train`"),
    ({"batch_size": {"uniform": [8, 32]}}, "batch_size.uniform: train.batch_size is not a real number; use choice"),
    ({"epochs": {"choice": [2, 0]}}, "epochs.choice: 0 is not a valid train.epochs"),
    ({"learning_rate": {"log_uniform": [0, 1e-3]}}, "search.space.learning_rate: log_uniform needs low"),
    ({"learning_rate": {"uniform": [1e-3, 1e-5]}}, "low < high"),
    ({"learning_rate": {"uniform": [1e-5, 1e-3], "choice": [1e-4]}}, "give exactly one of log_uniform, uniform or"),
    ({"learning_rate": {"log_uniform": [1e-5, 1e9]}}, "1000000000.0 is not a valid train.learning_rate"),
])
def test_a_wrong_space_is_an_error_at_load_with_its_yaml_path(write_pipelines, tiny_model_dir, review_files, space,
                                                             message):
    spec = pipeline_dict(tiny_model_dir, review_files)
    spec["search"] = {"trials": 3, "space": space}
    with pytest.raises(ConfigError) as error:
        load_pipelines(write_pipelines({"tiny": spec}))
    assert "pipelines.tiny.search" in str(error.value) and message in str(error.value), str(error.value)


def test_the_objective_has_a_direction_and_the_trial_count_is_bounded():
    assert SearchSpec(trials=3, space=SPACE).objective.direction == "minimize"
    assert SearchSpec(trials=3, space=SPACE, objective={"metric": "accuracy"}).objective.direction == "maximize"
    with pytest.raises(ValueError, match="trials"):
        SearchSpec(trials=10**9, space=SPACE)
    with pytest.raises(ValueError, match="metric"):
        SearchSpec(trials=3, space=SPACE, objective={"metric": "f1"})  # the test split never chooses


def test_set_search_trials_changes_only_the_trial_count(write_pipelines, tiny_model_dir, review_files):
    from modelmill.config import resolve_run

    spec = pipeline_dict(tiny_model_dir, review_files)
    path = write_pipelines({"tiny": spec})
    with pytest.raises(ConfigError, match="--set search.trials: this pipeline has no `search` section"):
        resolve_run("tiny", path, parse_cli_overrides(["search.trials=5"]))
    spec["search"] = {"trials": 3, "space": SPACE}
    path = write_pipelines({"tiny": spec})
    run = resolve_run("tiny", path, parse_cli_overrides(["search.trials=5"]))
    assert run.spec.search.trials == 5 and run.spec.search.space == resolve_run(
        "tiny", path, parse_cli_overrides([])).spec.search.space
    with pytest.raises(ConfigError, match="--set search.trials"):
        parse_cli_overrides(["search.trials=0"])


def test_a_train_override_keeps_the_settings_that_are_not_the_identity(write_pipelines, tiny_model_dir,
                                                                      review_files):
    from modelmill.config import resolve_run

    spec = pipeline_dict(tiny_model_dir, review_files)
    spec["train"].update(processes=2, engine="ray", ray={"num_workers": 2})
    run = resolve_run("tiny", write_pipelines({"tiny": spec}), parse_cli_overrides(["train.epochs=1"]))
    assert (run.spec.train.epochs, run.spec.train.processes, run.spec.train.engine) == (1, 2, "ray")
    assert run.spec.train.ray.num_workers == 2


def test_a_trial_trains_the_base_with_its_values_judged_by_the_objective():
    search = SearchSpec(trials=3, parallel=2, space=SPACE, objective={"metric": "accuracy"})
    base = TrainSpec(epochs=4, batch_size=8, processes=2)
    trial = trial_train(base, {"learning_rate": 3e-4, "epochs": 2}, search)
    assert (trial.learning_rate, trial.epochs, trial.batch_size, trial.processes) == (3e-4, 2, 8, 2)
    assert trial.metric_for_best_model == "accuracy", "the objective picks each trial's best checkpoint"
    assert trial.share == 2, "two trials train at once: each in its own process with half the cores"
    # how many trials run at once is not part of a trial's identity (nor of its cache key)
    assert trial.model_dump() == trial_train(base, {"learning_rate": 3e-4, "epochs": 2},
                                             search.model_copy(update={"parallel": 1})).model_dump()


def test_the_objective_is_the_best_validation_value_of_the_training():
    model = ModelManifest(key="k", path="/m", base_model="b", labels=["a", "b"], device="cpu", training_arguments={},
                          history=[{"loss": 0.9}, {"eval_loss": 0.7, "eval_accuracy": 0.6},
                                   {"eval_loss": 0.5, "eval_accuracy": 0.55}, {"eval_loss": 0.6, "eval_accuracy": 0.7}])
    assert objective_value(model, "loss", "minimize") == 0.5
    assert objective_value(model, "accuracy", "maximize") == 0.7
    with pytest.raises(SearchFailed, match="no validation loss"):
        objective_value(model.model_copy(update={"history": [{"loss": 1.0}]}), "loss", "minimize")


def test_pruning_and_gpu_requests_are_bounded_and_named():
    search = SearchSpec(trials=3, space=SPACE, pruning={})
    assert (search.pruning.percentile, search.pruning.startup_trials, search.pruning.warmup_evaluations) == (50, 1, 0)
    for wrong in ({"pruning": {"percentile": 100}}, {"pruning": {"warmup_evaluations": -1}}, {"gpus_per_trial": 99},
                  {"runner": "spark"}):
        with pytest.raises(ValueError, match=next(iter(wrong))):
            SearchSpec(trials=3, space=SPACE, **wrong)


def test_a_trial_asks_for_a_gpu_when_the_cluster_has_one_and_never_for_more_than_it_has():
    auto, two = SearchSpec(trials=3, space=SPACE), SearchSpec(trials=3, space=SPACE, gpus_per_trial=2)
    assert gpus_per_trial(auto, 0, "here") == 0 and gpus_per_trial(auto, 4, "here") == 1
    assert gpus_per_trial(two, 2, "here") == 2
    with pytest.raises(ConfigError, match=r"search.gpus_per_trial: 2 GPU\(s\) per trial, and the cluster has 1"):
        gpus_per_trial(two, 1, "the cluster")


def test_pruning_is_refused_on_a_cluster_that_cannot_reach_the_study():
    pruned = SearchSpec(trials=3, space=SPACE, pruning={})
    refuse_remote_pruning(pruned, None, "MODELMILL_DASK_ADDRESS")  # a local cluster reaches the journal
    unpruned = SearchSpec(trials=3, space=SPACE)
    refuse_remote_pruning(unpruned, "tcp://10.0.0.5:8786", "MODELMILL_DASK_ADDRESS")  # nothing to reach
    with pytest.raises(ConfigError, match="search.pruning needs the trials to reach the study's journal on this "
                       "machine, and MODELMILL_DASK_ADDRESS=tcp://10.0.0.5:8786 names another cluster"):
        refuse_remote_pruning(pruned, "tcp://10.0.0.5:8786", "MODELMILL_DASK_ADDRESS")


def test_a_search_can_name_the_adapters_rank_alpha_and_dropout(tiny_model_dir, review_files):
    from pydantic import ValidationError

    from modelmill.config import PipelineSpec

    search = SearchSpec.model_validate({"trials": 2, "space": {"adapter.r": {"choice": [4, 8]},
                                                               "adapter.dropout": {"uniform": [0.0, 0.2]},
                                                               "learning_rate": {"log_uniform": [1e-4, 1e-2]}}})
    base = TrainSpec.model_validate({"adapter": {"r": 16, "alpha": 32}})
    trial = trial_train(base, {"adapter.r": 4, "adapter.dropout": 0.1, "learning_rate": 1e-3}, search)
    assert (trial.adapter.r, trial.adapter.alpha, trial.adapter.dropout, trial.learning_rate) == (4, 32, 0.1, 1e-3)
    with pytest.raises(ValidationError, match=r"adapter.r.choice: 0 is not a valid train.adapter.r"):
        SearchSpec.model_validate({"trials": 2, "space": {"adapter.r": {"choice": [0, 8]}}})
    with pytest.raises(ValidationError, match="adapter.alpha.uniform: train.adapter.alpha is not a real number"):
        SearchSpec.model_validate({"trials": 2, "space": {"adapter.alpha": {"uniform": [8, 32]}}})
    spec = pipeline_dict(tiny_model_dir, review_files)
    spec["search"] = {"trials": 2, "space": {"adapter.r": {"choice": [4, 8]}}}
    with pytest.raises(ValidationError, match="search.space.adapter.r: the pipeline trains no adapter"):
        PipelineSpec.model_validate(spec)
