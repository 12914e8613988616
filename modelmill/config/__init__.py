"""The spec of `pipelines.yaml` (one strict model per section), its guarded YAML loader, the file as a whole, and the
overrides of one run. The names other wings use are imported from here."""

from __future__ import annotations

from modelmill.config.adapter import AdapterSpec  # noqa: F401
from modelmill.config.base import (  # noqa: F401
    MACRO_F1,
    MAX_ACCUMULATION,
    MAX_BATCH,
    MAX_DELAY_SECONDS,
    MAX_EPOCHS,
    MAX_LEARNING_RATE,
    MAX_ROWS,
    MAX_STEPS,
    MAX_TEXT,
    PER_CLASS_METRICS,
    PIPELINE_NAME,
    REDIRECTING_ARGUMENTS,
    SEED_RANGE,
    SPLITS,
    BatchSize,
    Epochs,
    LearningRate,
    MaxSteps,
    Section,
    Seed,
)
from modelmill.config.data import DataSpec, HubDataset, SplitFiles, SplitRatios  # noqa: F401
from modelmill.config.evaluate import (  # noqa: F401
    BaselineSpec,
    ClassThresholds,
    DecisionThresholdSpec,
    EvaluateSpec,
    EvaluationSet,
    Guard,
    OverfittingSpec,
    PromoteSpec,
    RetentionSpec,
    SliceSpec,
    Threshold,
    unknown_classes,
)
from modelmill.config.file import DEFAULT_FILE, load_pipeline, load_pipelines, select_pipeline  # noqa: F401
from modelmill.config.loader import CORE, MAX_DEPTH, MAX_EXPANDED_NODES, PLAIN_TAGS, load_yaml_file, yaml_problem  # noqa: F401
from modelmill.config.messages import describe_error, format_validation_error, yaml_path  # noqa: F401
from modelmill.config.model import ModelSpec, TokenizerSpec  # noqa: F401
from modelmill.config.operations import (  # noqa: F401
    DeploySpec,
    NotifySpec,
    ObserveSpec,
    PushSpec,
    RetrySpec,
    ScheduleSpec,
    TriggerSpec,
)
from modelmill.config.overrides import CLI_KEYS, TRAIN_FIELDS, RunOverrides, parse_cli_overrides  # noqa: F401
from modelmill.config.pipeline import PipelinesFile, PipelineSpec  # noqa: F401
from modelmill.config.runs import OPERATIONAL, ResolvedRun, resolve_run  # noqa: F401
from modelmill.config.train import TrainSpec  # noqa: F401
from modelmill.config.validation import (  # noqa: F401
    BalanceCheck,
    BuiltinChecks,
    Check,
    ExpectationRule,
    OverlapCheck,
    RuleFile,
    RuleSuite,
    ShiftCheck,
    TextMatchCheck,
    ValidationSpec,
    load_rule_file,
)
