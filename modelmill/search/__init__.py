"""Hyperparameter search: an Optuna study under the home, asked and told by the flow; each trial is the train task."""
