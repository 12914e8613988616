"""The README.md model card pushed with every model: model-index metrics, data, validation, training, code."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from modelmill import __version__
from modelmill.evaluation.figures import saved_figures
from modelmill.evaluation.tables import evaluation_sections
from modelmill.hub.promotion import comparison_table
from modelmill.checks.overlap import dropped_note
from modelmill.manifests import DataManifest, EvaluationReport, ModelManifest, SearchReport, ValidationReport
from modelmill.observe.reporting import cost_line, gate_note
from modelmill.storage.settings import get_settings
from modelmill.search.report import search_table
from modelmill.task_types import PREFERENCE, task_type

TEMPLATE = """---
{{ card_data }}
---

# {{ repo_id }}

{{ description }}

Fine-tuned by [modelmill](https://pypi.org/project/modelmill/) pipeline `{{ pipeline }}` from {{ base_model }}.
Labels: {{ labels }}.
{% if adapter %}
{{ adapter }}
{% endif %}
{% if chat_template %}
Chat template: sha256 `{{ chat_template }}`, the one it was trained with; this repo's tokenizer carries exactly it
(`tokenizer.apply_chat_template` renders prompts as in training).
{% endif %}
## Evaluation (test split, {{ num_examples }} examples)

{{ metrics_table }}
{% if gate_note %}
**{{ gate_note }}**
{% endif %}
{{ evaluation_sections }}
{% if decision %}
The published model applies this cut-off only where the caller does; `pipeline("text-classification")` takes the
most probable class. To predict as evaluated:

```python
probabilities = model(**inputs).logits.softmax(-1)
cut = model.config.decision_threshold  # {{ decision }}
is_{{ decision_label }} = probabilities[:, model.config.label2id[cut["label"]]] >= cut["cutoff"]
```
{% endif %}
{% if comparison %}
## Compared with the model it replaces

{{ comparison }}
{% endif %}
## Data

- Source: {{ data_source }}
- Fingerprint: `{{ fingerprint }}`
- Rows: {{ num_rows }}
{% if dropped %}- Overlap: {{ dropped }}
{% endif %}- Validation: {{ validation }}

## Training

| argument | value |
| --- | --- |
{% for name, value in training_arguments.items() -%}
| {{ name }} | {{ value }} |
{% endfor %}
Device: {{ device }}. Mean train loss over the whole training: {{ train_loss }}.
{% if train_cost %}Training cost: {{ train_cost }}.
{% endif %}
{% if search %}
### Hyperparameter search

{{ search }}
{% endif %}{% if history %}
## History

The main metric of the versions this pipeline released before this model:

![main metric per run]({{ history }})
{% endif %}
## Code

modelmill {{ version }}{% if commit %}, commit `{{ commit }}`{% endif %}{% if spec_hash %}; pipeline spec hash `{{ spec_hash }}`{% endif %}.
"""


def code_commit() -> str | None:
    """The git commit of the working directory, if it is a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def hub_model_id(ref: str) -> str | None:
    """`ref` if it names a Hub model (not a local folder, a `pkg:` reference or another pipeline's model)."""
    local = ref.startswith(("pkg:", "pipeline:", "/", ".", "~")) or Path(ref).exists() or ref.count("/") > 1
    return None if local else ref


READER_SETTINGS = (
    "epochs", "max_steps", "learning_rate", "lr_scheduler_type", "warmup_ratio", "batch_size",
    "gradient_accumulation_steps", "weight_decay", "seed", "precision", "bf16", "fp16",
)


def public_model_ref(ref: str, made: str = "domain-adapted") -> str:
    """Hub ids and `pkg:` references as they are; a local folder by its name only (its path stays private); another
    pipeline's model as what that pipeline `made` (domain-adapted, instruction-tuned)."""
    if ref.startswith("pipeline:"):
        return f"the {made} model of pipeline `{ref.removeprefix('pipeline:')}`"
    if ref.startswith("pkg:") or hub_model_id(ref):
        return ref
    return f"a local model folder named '{Path(ref).name}'"


def _reader_settings(arguments: dict) -> dict:
    """The training settings a reader needs to judge or reproduce the model (not local paths or plumbing)."""
    return {name: arguments[name] for name in READER_SETTINGS if name in arguments}


def _public_source(source: str) -> str:
    """File names only (local absolute paths stay private); Hub datasets as they are."""
    if source.startswith("hub:"):
        return source
    return ", ".join(Path(part.strip()).name for part in source.split(","))


FIGURES_FOLDER = "evaluation"  # where the PNGs go in the Hub repo, next to README.md


METHOD_NAMES = {"lora": "LoRA", "qlora": "QLoRA"}


def released_as_adapter(model: ModelManifest) -> bool:
    return model.adapter is not None and not model.adapter.merge


def adapter_note(model: ModelManifest, base_words: str) -> str:
    """What a reader of an adapter's card needs: what it is, how many weights it trained, how to load it (its base
    as the card words it: `base_words`)."""
    adapter = model.adapter
    if adapter is None:
        return ""
    trained = f"{model.trainable_parameters:,} of {model.parameters:,} parameters trained" \
        if model.trainable_parameters and model.parameters else "parameters trained"
    what = f"A {METHOD_NAMES[adapter.method]} adapter (r={adapter.r}, alpha={adapter.alpha}, {trained}; PEFT)"
    if adapter.merge:
        return f"{what}, released merged into its base: a plain transformers model."
    base = hub_model_id(model.base_model)
    loading = f'`AutoPeftModel.from_pretrained("<this repo>")` loads it on `{base}`' if base else \
        "load its base, then `PeftModel.from_pretrained(base, \"<this repo>\")`"
    return f"{what} on {base_words}: this repo holds the adapter only; {loading}."


def card_figures(evaluation: EvaluationReport) -> dict[str, str]:
    """Figure title -> its path in the Hub repo, for the figures this evaluation saved."""
    return {title: f"{FIGURES_FOLDER}/{path.name}" for title, path in saved_figures(evaluation.figures).items()}


def decision_config(evaluation: EvaluationReport) -> dict | None:
    """The `decision_threshold` entry written into the pushed config.json (None without a cut-off)."""
    decision = evaluation.decision
    if decision is None:
        return None
    return {"label": decision.label, "cutoff": decision.cutoff, "picked_on": "validation", "for": decision.rule}


def render_model_card(
    *,
    pipeline: str,
    description: str,
    repo_id: str,
    model: ModelManifest,
    evaluation: EvaluationReport,
    metrics_table: str,
    data: DataManifest,
    validation: ValidationReport,
    spec_hash: str = "",
    search: SearchReport | None = None,
    history: str = "",
) -> str:
    """Model card text (YAML metadata with model-index, then Markdown); it holds no secrets. The figures it shows
    are pushed under `evaluation/` (see `card_figures`)."""
    figures = card_figures(evaluation)
    tag = task_type(data.task).pipeline_tag
    base_words = public_model_ref(model.base_model, "instruction-tuned" if data.task == PREFERENCE else
                                  "domain-adapted")
    card_data = ModelCardData(
        library_name="peft" if released_as_adapter(model) else "transformers",
        pipeline_tag=tag,
        tags=["modelmill", tag],
        base_model=hub_model_id(model.base_model),
        model_name=repo_id,
        eval_results=[
            EvalResult(
                task_type=tag,
                dataset_type=f"modelmill/{pipeline}",
                dataset_name=f"{pipeline} test split",
                dataset_split="test",
                metric_type=name,
                metric_value=value,
            )
            for name, value in evaluation.metrics.items()
        ],
    )
    card = ModelCard.from_template(
        card_data,
        template_str=TEMPLATE,
        repo_id=repo_id,
        description=description,
        pipeline=pipeline,
        base_model=base_words,
        labels=", ".join(model.labels),
        chat_template=model.chat_template or "",
        adapter=adapter_note(model, base_words),
        num_examples=evaluation.num_examples,
        metrics_table=metrics_table,
        gate_note=" ".join(gate_note(evaluation)),
        evaluation_sections=evaluation_sections(evaluation, figures, examples=False),  # test texts stay private
        decision=decision_config(evaluation) or "",
        decision_label=re.sub(r"\W", "_", evaluation.decision.label) if evaluation.decision else "",
        comparison=comparison_table(evaluation.promotion) if evaluation.promotion else "",
        spec_hash=spec_hash,
        data_source=_public_source(data.source),
        fingerprint=data.fingerprint,
        num_rows=data.num_rows,
        dropped=dropped_note(data.dropped) if data.dropped else "",
        validation=f"Great Expectations, {validation.summary()}",
        training_arguments=_reader_settings(model.training_arguments),
        device=model.device,
        train_loss=model.mean_loss,
        train_cost=cost_line(model.train_cost, get_settings().price) if model.train_cost else "",
        version=__version__,
        commit=code_commit(),
        search=search_table(search, released=True) if search else "",
        history=history,
    )
    return str(card)
