"""Checks that run before any work (`modelmill check`, and `modelmill run` before Prefect starts): the data files
(everything the load stage would refuse, said the same way), training arguments, model and tokenizer,
`max_length`, metric modules, and the columns GX rules name.

Each problem is one line naming the file, YAML path, column or row, and what to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelmill.config import PipelineSpec
from modelmill.data.facts import SplitFacts
from modelmill.runtime.errors import ModelmillError, PreflightFailed
from modelmill.task_types import PREFERENCE, TEXT_GENERATION

COLUMN_KWARGS = ("column", "column_A", "column_B")
UNBOUNDED = 1_000_000  # tokenizers without a limit report a huge model_max_length


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def read_split(path: Path, split: str, spec: PipelineSpec, fmt: Any) -> tuple[list[str], SplitFacts | None, Any]:
    """The facts of one file, read as the load stage reads it (a batch of rows at a time), and the split itself,
    or why it cannot be read."""
    from modelmill.data.facts import gather
    from modelmill.data.files import file_format, read_file
    from modelmill.data.labels import named

    try:
        part = read_file(path, file_format(fmt, path))
    except ModelmillError as exc:
        return [str(exc)], None, None
    return [], gather(part, split, named(path), spec.data.text_column, spec.data.label_column), part


def check_overlap(spec: PipelineSpec, parts: dict[str, Any], sources: dict[str, Path]) -> list[str]:
    """Held-out rows repeating an earlier split's text beyond the overlap check's share, when the check stops the
    run (the validate stage would): named with the file, the rows and the remedy."""
    from modelmill.checks.overlap import dataset_hashes, find_overlaps
    from modelmill.data.folders import origins_of
    from modelmill.data.labels import named

    check = spec.validation.checks.overlap
    if not check.enabled or check.action != "stop" or len(parts) < len(sources):
        return []
    overlaps = find_overlaps(check, dataset_hashes(parts, spec.data.text_column), spec.validation.splits, parts)
    # the folded comparison (when the check folds) finds every exact repeat too: one line per pair of splits
    return [overlap.describe(check, named(sources[overlap.split]), origins_of(parts[overlap.split]))
            for overlap in overlaps if overlap.normalized == check.normalized and overlap.stops(check)]


def check_data(where: str, spec: PipelineSpec) -> tuple[list[str], dict[str, list[str]]]:
    """What the load stage would refuse in the local data files (the very sentences it would raise), problems of
    the extra evaluation sets, the classes `evaluate` names (against the labels), and the columns of each split."""
    from modelmill.config import unknown_classes
    from modelmill.data.labels import column_problems, data_problems, row_problems

    if spec.data.hub is not None:
        return [], {}
    problems: list[str] = []
    splits: list[SplitFacts] = []
    parts: dict[str, Any] = {}
    sources = spec.data.split_files()
    for split, source in sources.items():
        found, facts, part = read_split(source, split, spec, spec.data)
        problems += found
        splits += [facts] if facts is not None else []
        parts.update({split: part} if part is not None else {})
    labels = spec.data.labels
    if not problems:
        labels, _, found = data_problems(splits, spec.data)
        problems += found or check_overlap(spec, parts, sources)  # texts compared once every column is there
    else:  # a file could not be read: what the others show
        problems += [p for facts in splits for p in column_problems(facts, spec.data)
                     + row_problems(facts, spec.data, spec.data.drop_null_labels)]
    for name, extra in spec.evaluate.sets.items():
        context = f" ({where}.evaluate.sets.{name})"
        found, facts, _ = read_split(extra.file, "test", spec, extra)
        problems += [problem + context for problem in found]
        if facts is not None:
            problems += column_problems(facts, spec.data, context) + row_problems(facts, spec.data, where=context)
    if labels:
        problems += [f"{where}.{problem} (labels of the data)" for problem in unknown_classes(spec.evaluate, labels)]
    columns = {facts.split: facts.columns for facts in splits}
    test_columns = columns.get("test", columns.get("train"))
    for index, slicing in enumerate(spec.evaluate.slices):
        if slicing.column is not None and test_columns is not None and slicing.column not in test_columns:
            problems.append(f"{where}.evaluate.slices[{index}].column: '{slicing.column}' is not a column of the test "
                            f"split (columns: {test_columns})")
    return problems, columns


def check_training(where: str, spec: PipelineSpec) -> list[str]:
    """The `TrainingArguments` the train section resolves to must build (pass-through settings included): a setting
    the train stage would refuse is found now, not after loading, validating and tokenizing. The fields modelmill
    maps itself are checked by the spec; they are built only when pass-through settings or a precision that needs a
    GPU could make them fail (building them imports torch and transformers' arguments: two seconds)."""
    import importlib.util
    import tempfile

    from modelmill.training.arguments import training_arguments

    if spec.train.engine == "ray" and importlib.util.find_spec("ray") is None:
        return [f"{where}.train.engine: ray needs Ray on this machine: pip install 'modelmill[ray]'"]
    if spec.task in (TEXT_GENERATION, PREFERENCE) and importlib.util.find_spec("trl") is None:
        return [f"{where}.task: {spec.task} trains with TRL, not on this machine: pip install "
                "'modelmill[generative]'"]
    if not spec.train.training_arguments and spec.train.precision in ("auto", "fp32"):
        return []
    try:
        with tempfile.TemporaryDirectory(prefix="modelmill-check-") as scratch:
            training_arguments(spec.train, Path(scratch))
    except ModelmillError as exc:
        return [f"{where}.{first_line(exc)}"]
    except Exception as exc:  # TrainingArguments raises ValueError, TypeError, ImportError...
        return [f"{where}.train.training_arguments: TrainingArguments refuses these settings: "
                f"{type(exc).__name__}: {first_line(exc)}"]
    return []


def check_adapter(where: str, spec: PipelineSpec) -> list[str]:
    """What the train stage would refuse of `train.adapter`: PEFT missing, QLoRA where it cannot run (no CUDA here
    and no work pool named to run it elsewhere), target modules the model has no linear layer of (its architecture
    built from its config on the meta device: no weights are read)."""
    import importlib.util

    from modelmill.training.adapters import missing_layers, model_skeleton

    adapter = spec.train.adapter
    if adapter is None:
        return []
    if importlib.util.find_spec("peft") is None:
        return [f"{where}.train.adapter: adapters train with PEFT, not on this machine: pip install "
                "'modelmill[adapters]'"]
    if adapter.method == "qlora" and spec.deploy.work_pool is None:
        import torch

        if not torch.cuda.is_available():
            return [f"{where}.train.adapter.method: qlora needs a CUDA device, and this machine has none (name the "
                    "GPU work pool that runs it in deploy.work_pool, or use method: lora)"]
    if not isinstance(adapter.target_modules, list) or spec.model.from_pipeline is not None:
        return []
    skeleton = model_skeleton(spec)
    problem = missing_layers(skeleton, adapter.target_modules) if skeleton is not None else None
    return [f"{where}.train.adapter.target_modules: {problem}"] if problem else []


def check_rule_columns(where: str, spec: PipelineSpec, columns: dict[str, list[str]]) -> list[str]:
    """Every column a GX rule names must exist in the splits it checks (in the one file, when one is split)."""
    relevant = {split: names for split, names in columns.items() if spec.data.file or split in spec.validation.splits}
    problems = []
    for index, rule in enumerate(spec.validation.expectations):
        for column in (rule.kwargs[k] for k in COLUMN_KWARGS if isinstance(rule.kwargs.get(k), str)):
            lacking = [split for split, names in relevant.items() if column not in names]
            if lacking:
                problems.append(
                    f"{where}.validation.expectations[{index}] ({rule.expectation}): column '{column}' is not in "
                    f"split(s) {lacking} (columns: {relevant[lacking[0]]})"
                )
    return problems


def model_limit(spec: PipelineSpec) -> tuple[int | None, str | None]:
    """How many tokens the model accepts, or None and why the model or tokenizer cannot be loaded."""
    from transformers import AutoConfig, AutoTokenizer

    from modelmill.training.loading import gguf_source, gguf_tokenizer
    from modelmill.training.resources import resolve_model_ref

    model = spec.model
    try:
        path = resolve_model_ref(model.name_or_path)
        looks_local = path.startswith((".", "/", "~")) or Path(path).exists()
        if looks_local and not Path(path).expanduser().is_dir():
            return None, f"model folder '{model.name_or_path}' does not exist"
        options: dict[str, str] = {}
        if model.gguf_file is not None:
            if looks_local and not (Path(path).expanduser() / model.gguf_file).is_file():
                return None, f"'{model.name_or_path}' has no file '{model.gguf_file}' (model.gguf_file)"
            path, options = gguf_source(model)
        config = AutoConfig.from_pretrained(path, revision=model.revision, trust_remote_code=model.trust_remote_code,
                                            **options)
        if spec.tokenizer.name_or_path is None and model.gguf_file is not None:
            tokenizer = gguf_tokenizer(model)
        else:
            tokenizer_ref = resolve_model_ref(spec.tokenizer.name_or_path or model.name_or_path)
            tokenizer = AutoTokenizer.from_pretrained(tokenizer_ref, trust_remote_code=model.trust_remote_code)
    except ModelmillError as exc:
        return None, str(exc)
    except (OSError, ValueError) as exc:
        from huggingface_hub import constants

        if constants.HF_HUB_OFFLINE and not Path(model.name_or_path).exists():
            return None, (
                f"'{model.name_or_path}' is a Hub id that is not in the local cache, and HF_HUB_OFFLINE is set: "
                "download it once with a network, or give a local folder or pkg: reference"
            )
        return None, f"cannot load '{model.name_or_path}': {first_line(exc)}"
    limits = [getattr(config, "max_position_embeddings", None), tokenizer.model_max_length]
    usable = [int(limit) for limit in limits if isinstance(limit, int) and 0 < limit < UNBOUNDED]
    return (min(usable) if usable else None), None


def check_model(where: str, spec: PipelineSpec, root: PipelineSpec | None = None) -> list[str]:
    """The model loads and accepts tokenizer.max_length; a model that starts from another pipeline's is the model
    that chain starts from (`root`, whose own check names a load problem)."""
    limit, problem = model_limit(spec if root is None else spec.model_copy(update={"model": root.model}))
    if problem:
        return [f"{where}.model.name_or_path: {problem}"] if root is None else []
    if limit is not None and spec.tokenizer.max_length > limit:
        return [
            f"{where}.tokenizer.max_length: {spec.tokenizer.max_length} is more than '{(root or spec).model.origin}' "
            f"accepts ({limit} tokens); use at most {limit}"
        ]
    return []


def check_metrics(where: str, spec: PipelineSpec) -> list[str]:
    """Each metric that is not shipped must load now (the shipped ones load offline, and loading `evaluate` alone
    takes seconds)."""
    from modelmill.metrics import SHIPPED_METRICS, TASK_METRIC_NAMES, UNBOUNDED_TASK_METRICS, load_metric

    problems = []
    for index, name in enumerate(spec.evaluate.metrics):
        if name in SHIPPED_METRICS + TASK_METRIC_NAMES + UNBOUNDED_TASK_METRICS:  # the task type computes these
            continue
        try:
            load_metric(name, spec.evaluate.trust_remote_code)
        except Exception as exc:  # evaluate raises FileNotFoundError, ImportError, ConnectionError...
            problems.append(f"{where}.evaluate.metrics[{index}]: metric '{name}' cannot be loaded: {first_line(exc)}")
    return problems


def preflight(name: str, spec: PipelineSpec, root: PipelineSpec | None = None) -> list[str]:
    """Every problem found in pipeline `name` but those of the strict rule check, one line each (`root`: the
    pipeline its model chain starts from, when it starts from another pipeline's model)."""
    from modelmill.task_types import task_type

    where = f"pipelines.{name}"
    problems, columns = task_type(spec.task).check_files(where, spec)
    problems += check_rule_columns(where, spec, columns)
    problems += check_training(where, spec)
    problems += check_adapter(where, spec)
    problems += check_model(where, spec, root)
    problems += check_metrics(where, spec)
    return problems


def guarded(name: str, spec: PipelineSpec, root: PipelineSpec | None) -> list[str]:
    """`preflight`, where a check that breaks on input nobody foresaw is one problem of this pipeline (with what
    broke), not the end of every other pipeline's check."""
    try:
        return preflight(name, spec, root)
    except Exception as exc:
        import traceback

        frame = traceback.extract_tb(exc.__traceback__)[-1]
        return [f"pipelines.{name}: the check could not finish ({type(exc).__name__}: {first_line(exc)}, in "
                f"{Path(frame.filename).name}:{frame.lineno}); please report it with this line"]


def upstreams(name: str, pipelines: dict[str, PipelineSpec]) -> list[str]:
    """The pipelines whose models `name`'s starts from, nearest first (the file's check refused loops)."""
    chain = [name]
    while (upstream := pipelines[chain[-1]].model.from_pipeline) is not None:
        chain.append(upstream)
    return chain[1:]


def problems_of(source: Path | str, pipelines: dict[str, PipelineSpec]) -> dict[str, list[str]]:
    """Every problem of each pipeline and of the pipelines its model starts from, one line each (empty: ready to
    run). The rules are built as GX objects in a child process meanwhile (GX takes seconds to import)."""
    from modelmill.checks import strict
    from modelmill.config import load_pipelines

    chained = any(spec.model.from_pipeline for spec in pipelines.values())
    every = load_pipelines(source).pipelines if chained else pipelines
    chains = {name: upstreams(name, every) for name in pipelines}
    checked = {name: pipelines.get(name) or every[name] for name in dict.fromkeys([*chains, *(up for chain in chains.values() for up in chain)])}
    child = strict.start(source, checked)
    home = home_problems()
    found = {name: guarded(name, spec, every[chain[-1]] if (chain := upstreams(name, every)) else None)
             for name, spec in checked.items()}
    for name, rules in strict.finish(child, checked).items():
        found[name] = rules + found[name]
    return {name: [*home, *found[name], *(f"pipeline '{up}', whose model '{name}' starts from: {problem}"
                                          for up in chain for problem in found[up])] for name, chain in chains.items()}


def home_problems() -> list[str]:
    """A remote MODELMILL_HOME must answer before any work (a run would retry each stage against it for minutes)."""
    from modelmill.storage.home import current_home

    home = current_home()
    reason = home.unreachable()
    if reason is None:
        return []
    return [f"MODELMILL_HOME={home.location}: cannot be reached: {reason}; check the endpoint "
            "(MODELMILL_STORAGE_OPTIONS), the network and the credentials of this machine"]


def refusal(source: Path | str, name: str, problems: list[str]) -> str:
    lines = "\n".join(f"  {problem}" for problem in problems)
    return f"{source}: pipeline '{name}' is not ready to run ({len(problems)} problem(s)):\n{lines}"


def require_ready(name: str, spec: PipelineSpec, source: Path | str) -> None:
    """Raise PreflightFailed listing every problem of pipeline `name` (from file `source`)."""
    problems = problems_of(source, {name: spec})[name]
    if problems:
        raise PreflightFailed(refusal(source, name, problems))
