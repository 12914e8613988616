"""The spec of `pipelines.yaml` (one strict model per section), its guarded YAML loader, the file as a whole, and the
overrides of one run. The names other wings use are imported from here."""

from __future__ import annotations

from modelmill.config.base import (  # noqa: F401
    SPLITS, SEED_RANGE, MAX_EPOCHS, MAX_STEPS, MAX_BATCH, MAX_ACCUMULATION, MAX_LEARNING_RATE, MAX_ROWS,
    MAX_DELAY_SECONDS, MAX_TEXT, Epochs, LearningRate, BatchSize, MaxSteps, Seed, REDIRECTING_ARGUMENTS,
    PER_CLASS_METRICS, MACRO_F1, PIPELINE_NAME, Section
)
from modelmill.config.data import SplitFiles, SplitRatios, HubDataset, DataSpec  # noqa: F401
from modelmill.config.validation import (  # noqa: F401
    ExpectationRule, RuleFile, RuleSuite, Check, TextMatchCheck, OverlapCheck, BalanceCheck, ShiftCheck,
    BuiltinChecks, ValidationSpec, load_rule_file
)
from modelmill.config.model import ModelSpec, TokenizerSpec  # noqa: F401
from modelmill.config.train import TrainSpec  # noqa: F401
from modelmill.config.evaluate import (  # noqa: F401
    Threshold, Guard, PromoteSpec, ClassThresholds, EvaluationSet, SliceSpec, BaselineSpec, OverfittingSpec,
    DecisionThresholdSpec, EvaluateSpec, unknown_classes
)
from modelmill.config.operations import PushSpec, ScheduleSpec, NotifySpec, RetrySpec  # noqa: F401
from modelmill.config.pipeline import PipelineSpec, PipelinesFile  # noqa: F401
from modelmill.config.messages import yaml_path, describe_error, format_validation_error  # noqa: F401
from modelmill.config.loader import (  # noqa: F401
    MAX_DEPTH, MAX_EXPANDED_NODES, CORE, PLAIN_TAGS, yaml_problem, load_yaml_file
)
from modelmill.config.file import DEFAULT_FILE, load_pipelines, select_pipeline, load_pipeline  # noqa: F401
from modelmill.config.overrides import TRAIN_FIELDS, CLI_KEYS, RunOverrides, parse_cli_overrides  # noqa: F401
from modelmill.config.runs import OPERATIONAL, ResolvedRun, resolve_run  # noqa: F401
