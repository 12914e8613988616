"""What a run uses: the pipelines file read when the run starts, plus its overrides, and a hash of the result."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from modelmill.config.file import load_pipelines, select_pipeline
from modelmill.config.overrides import RunOverrides
from modelmill.config.pipeline import PipelineSpec
from modelmill.storage.artifacts import stable_hash

if TYPE_CHECKING:
    from modelmill.storage.run_records import RunRecord

OPERATIONAL = ("schedule", "notify", "retries", "deploy")


@dataclass(frozen=True)
class ResolvedRun:
    """The spec one run uses, where it came from, and its hash (what the run is recorded under)."""

    pipeline: str
    file: Path
    spec: PipelineSpec
    overrides: RunOverrides
    record: RunRecord | None = None  # the run's record under the home, once it runs
    upstream: ResolvedRun | None = None  # the pipeline whose model this one starts from (model.from_pipeline)

    @property
    def upstreams(self) -> list[ResolvedRun]:
        """The runs of the pipelines whose models this one's starts from, nearest first."""
        chain, run = [], self.upstream
        while run is not None:
            chain.append(run)
            run = run.upstream
        return chain

    @property
    def spec_hash(self) -> str:
        """Hash of what shapes the model and its card (files by name and content, never by the folder the project
        sits in); schedule, notify and retries are left out."""
        shaping = {name: getattr(self.spec, name) for name in type(self.spec).model_fields if name not in OPERATIONAL}
        if self.upstream is not None:  # the model it starts from is shaped by that pipeline's spec
            shaping["from_pipeline"] = self.upstream.spec_hash
        return stable_hash(shaping, length=12)


def resolve_run(pipeline: str, pipelines_file: str | Path, overrides: RunOverrides) -> ResolvedRun:
    """Read `pipelines_file` now (relative paths are relative to the working directory) and apply `overrides`."""
    path = Path(pipelines_file)
    pipelines = load_pipelines(path).pipelines
    spec = overrides.apply(select_pipeline(pipelines, pipeline, path))
    return ResolvedRun(pipeline=pipeline, file=path, spec=spec, overrides=overrides,
                       upstream=upstream_run(pipelines, spec, path))


def upstream_run(pipelines: dict[str, PipelineSpec], spec: PipelineSpec, path: Path) -> ResolvedRun | None:
    """The run of the pipeline `spec` starts from, as that pipeline declares it (this run's overrides are its
    own); None when it starts from a model reference. The file's check has refused loops."""
    name = spec.model.from_pipeline
    if name is None:
        return None
    upstream = pipelines[name]
    return ResolvedRun(pipeline=name, file=path, spec=upstream, overrides=RunOverrides(),
                       upstream=upstream_run(pipelines, upstream, path))
