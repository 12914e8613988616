"""The training side of a search's pruning: report the validation objective at every evaluation to the trial, and
stop when the study's pruner says it fell behind.

The training may run in the flow's process, a torchrun process or a worker of a local Dask or Ray cluster: each
opens the study from its journal file on this machine. Evaluations are counted per trial (the first is 1), so
trials of different batch sizes are compared at the same point of their training. A trial trained again after its
study already ended it (a re-run whose cache was collected) stops where it stopped the first time.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from transformers import TrainerCallback

from modelmill.search.pruning import TrialHandle, pruner


class PruneBehind(TrainerCallback):
    """Reports the objective at every evaluation and stops the training when the study prunes the trial; rank 0
    asks, every rank stops."""

    def __init__(self, handle: TrialHandle) -> None:
        self.handle = handle
        self.pruned_at: int | None = None

    @cached_property
    def trial(self) -> Any:
        import optuna
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        storage = JournalStorage(JournalFileBackend(str(self.handle.journal)))
        study = optuna.load_study(study_name=self.handle.study, storage=storage,
                                  pruner=pruner(self.handle.pruning))
        trial_id = storage.get_trial_id_from_study_id_trial_number(study._study_id, self.handle.number)
        return optuna.trial.Trial(study, trial_id)

    def behind(self, value: float, evaluation: int) -> bool:
        """Whether the trial stops at this evaluation: the pruner's answer while it runs; once the study ended it,
        where it was pruned then."""
        from optuna.trial import TrialState

        frozen = self.trial.study._storage.get_trial(self.trial._trial_id)
        if frozen.state == TrialState.RUNNING:
            self.trial.report(value, evaluation)
            return self.trial.should_prune()
        if frozen.state == TrialState.PRUNED:
            return evaluation >= max(frozen.intermediate_values, default=0)
        return False

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, float] | None = None,
                    **kwargs: Any) -> None:
        import torch.distributed as dist

        value = (metrics or {}).get(f"eval_{self.handle.metric}")
        evaluation = sum(1 for entry in state.log_history if "eval_loss" in entry)  # restored ones included
        decision = [value is not None and state.is_world_process_zero and self.behind(float(value), evaluation)]
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.broadcast_object_list(decision, src=0)
        if decision[0]:
            self.pruned_at = evaluation
            control.should_training_stop = True


def pruning_callbacks(handle: TrialHandle | None) -> list[PruneBehind]:
    return [PruneBehind(handle)] if handle is not None else []
