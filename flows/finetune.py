"""The fine-tuning flow: load -> validate -> tokenize -> train -> evaluate -> push."""

from __future__ import annotations

from prefect import flow

from modelmill.manifests import RunSummary
from modelmill.retry import retry_options
from modelmill.spec import PipelineSpec
from tasks.evaluate import evaluate_model
from tasks.load_data import load_data
from tasks.push import push_model
from tasks.tokenize import tokenize
from tasks.train import train
from tasks.validate import validate_data


@flow(name="finetune", flow_run_name="{pipeline_name}", validate_parameters=True)
def finetune(pipeline_name: str, pipeline: PipelineSpec) -> RunSummary:
    """Fine-tune, evaluate and publish one pipeline of pipelines.yaml; each stage is a cached, retryable task."""
    retrying = retry_options(pipeline.retries)
    data = load_data.with_options(**retrying)(pipeline.data)
    validation = validate_data.with_options(**retrying)(data, pipeline.validation, pipeline_name)
    tokens = tokenize.with_options(**retrying)(data, pipeline.tokenizer, pipeline.model)
    model = train.with_options(**retrying)(tokens, pipeline.model, pipeline.train)
    evaluation = evaluate_model.with_options(**retrying)(model, tokens, pipeline.evaluate, pipeline_name)
    pushed = push_model.with_options(**retrying)(
        pipeline_name, pipeline.description, pipeline.push, model, evaluation, data, validation
    )
    return RunSummary(pipeline=pipeline_name, evaluation=evaluation, model_path=model.path, push=pushed)
