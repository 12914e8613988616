"""Instruction tuning (`task: text-generation`): supervised fine-tuning of a causal language model with TRL's
`SFTTrainer`. Rows come as people have them: chat rows (`messages`: `{role, content}` turns), prompt/completion
columns, or plain text (continued pre-training). Conversations are rendered with the tokenizer's chat template (or
`tokenizer.chat_template`), the loss counts the answers' tokens only by default, and the test prompts are answered by
generation (left-padded batches, greedy by default) and scored on what a reviewer checks: exact match, token F1,
ROUGE-L, JSON validity, and the perplexity of the reference answers."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmill.data.folders import at_row
from modelmill.runtime.errors import ConfigError, DataError
from modelmill.task_types import TEXT_GENERATION
from modelmill.task_types.scored import published_scores, scored_evaluation
from modelmill.task_types.splits import UnlabelledRows, require_text

if TYPE_CHECKING:
    import datasets
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from modelmill.config import DataSpec, EvaluateSpec, ModelSpec, PipelineSpec, TokenizerSpec
    from modelmill.manifests import DataManifest, Mistake, Scores

METRICS = ("exact_match", "token_f1", "rougeL", "perplexity", "json_valid")
DEFAULT_METRICS = ("exact_match", "token_f1", "rougeL", "perplexity")
MESSAGES = "messages"  # chat rows
TEXT = "text"  # plain text
CHAT, PROMPT_COMPLETION, PLAIN = "chat", "prompt/completion", "plain text"
ROLES = ("system", "user", "assistant")
ANSWER_MASK = "completion_mask"  # 1 on the tokens the loss counts (TRL builds the labels from it)
CUT = "truncated"  # 1 on a row cut to max_length
WORST_SHOWN = 5


def layout(columns: list[str], spec: DataSpec) -> str:
    """How the rows are written, from their columns (as TRL tells them): chat, prompt/completion or plain text."""
    if MESSAGES in columns:
        return CHAT
    if spec.text_column in columns and spec.label_column in columns:
        return PROMPT_COMPLETION
    if TEXT in columns:
        return PLAIN
    raise DataError(f"no column '{MESSAGES}' (chat rows), '{spec.text_column}' and '{spec.label_column}' "
                    f"(prompt/completion: data.text_column and data.label_column) or '{TEXT}' (plain text); the "
                    f"columns are {columns}")


def conversation_problem(turns: Any) -> str | None:
    """What is wrong with one chat row, naming the turn and field (None: nothing)."""
    if not isinstance(turns, list) or not turns:
        return f"column '{MESSAGES}' is not a list of {{role, content}} turns"
    for index, turn in enumerate(turns):
        where = f"{MESSAGES}[{index}]"
        if not isinstance(turn, dict) or "role" not in turn or "content" not in turn:
            return f"{where} is not a {{role, content}} turn"
        if turn["role"] not in ROLES:
            return f"{where}.role {turn['role']!r} is not one of {', '.join(ROLES)}"
        if not isinstance(turn["content"], str) or not turn["content"].strip():
            return f"{where}.content is empty"
        if turn["role"] == "system" and index:
            return f"{where}: a system turn comes first or not at all"
    roles = [turn["role"] for turn in turns]
    if roles[-1] != "assistant":
        return f"the conversation ends with a '{roles[-1]}' turn: it must end with the assistant's answer"
    if "user" not in roles[:roles.index("assistant")]:
        return "the assistant answers before any user turn"
    return None


def check_split(part: datasets.Dataset, split: str, source: str, spec: DataSpec) -> str:
    """The split's layout; a DataError naming the source, row and field of a bad row."""
    try:
        kind = layout(part.column_names, spec)
    except DataError as exc:
        raise DataError(f"{source}: split '{split}': {exc}") from None
    if kind == CHAT:
        for row, turns in enumerate(part[MESSAGES], 1):
            if (problem := conversation_problem(turns)) is not None:
                raise DataError(f"{at_row(source, part, row)}: {problem}")
    elif kind == PROMPT_COMPLETION:
        require_text(part, split, source, [spec.text_column, spec.label_column],
                     "text-generation reads data.text_column (prompt) and data.label_column (completion)")
    else:
        require_text(part, split, source, [TEXT], "plain text is read from column 'text'")
    return kind


def turns_of(row: dict[str, Any], kind: str, data: DataManifest) -> list[dict[str, str]]:
    """The row as a conversation: a prompt/completion row is a user turn and the assistant's answer."""
    if kind == CHAT:
        return [{"role": turn["role"], "content": turn["content"]} for turn in row[MESSAGES]]
    return [{"role": "user", "content": row[data.text_column]}, {"role": "assistant", "content": row[data.label_column]}]


def render(tokenizer: PreTrainedTokenizerBase, turns: list[dict[str, str]], prompt: bool) -> str:
    """The turns as the chat template writes them (`prompt`: followed by the assistant's opening)."""
    return tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=prompt)


def answer_spans(tokenizer: PreTrainedTokenizerBase, turns: list[dict[str, str]]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of the assistant's turns in it (each as the template
    closes it: its end-of-turn token is learnt too). A template that renders a conversation's beginning differently
    alone than inside the whole would train on a context the model never sees when it answers: refused."""
    whole = render(tokenizer, turns, prompt=False)
    spans = []
    for index, turn in enumerate(turns):
        if turn["role"] != "assistant":
            continue
        prompt, answered = render(tokenizer, turns[:index], prompt=True), render(tokenizer, turns[:index + 1],
                                                                                  prompt=False)
        start, end = len(prompt), len(answered)
        if not (whole.startswith(prompt) and whole.startswith(answered)) or end <= start:
            raise ConfigError("the chat template renders the start of a conversation differently from the whole "
                              "conversation: its answers cannot be told apart (use another tokenizer.chat_template)")
        spans.append((start, end))
    return whole, spans


def encode_row(tokenizer: PreTrainedTokenizerBase, text: str, spans: list[tuple[int, int]], completion_only: bool
               ) -> tuple[list[int], list[int]]:
    """Token ids of `text` and a mask: 1 on the tokens that start inside a span (all of them: not `completion_only`)."""
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    mask = [int(not completion_only or any(start <= first < end for start, end in spans))
            for first, _ in encoded["offset_mapping"]]
    return list(encoded["input_ids"]), mask


def prepare_tokenizer(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """Pads with the end-of-text token when the tokenizer has no padding token (as causal LMs ship)."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def tokenize_rows(dataset: Any, tokenizer: PreTrainedTokenizerBase, data: DataManifest, spec: TokenizerSpec,
                  completion_only: bool = True) -> Any:
    """Every split as `input_ids`, the answer mask (`completion_mask`) and whether the row was cut to `max_length`
    (`tokenizer.too_long: refuse`: a DataError names the split and row instead)."""
    from modelmill.training.tokenizing import encode_splits

    if not tokenizer.is_fast:
        raise ConfigError(f"text-generation needs a fast tokenizer (offsets of the answers); "
                          f"{type(tokenizer).__name__} is not one")
    prepare_tokenizer(tokenizer)
    columns = next(iter(dataset.values())).column_names if hasattr(dataset, "values") else dataset.column_names
    kind = layout(columns, _data_spec(data))
    if kind != PLAIN and not tokenizer.chat_template:
        raise ConfigError(f"the tokenizer has no chat template to render {kind} rows: name a Jinja file in "
                          "tokenizer.chat_template")

    def encoder(split: str) -> Any:
        return lambda batch, indexes: encode(batch, indexes, split)

    def encode(batch: dict[str, list], indexes: list[int], split: str) -> dict[str, list]:
        out: dict[str, list] = {"input_ids": [], ANSWER_MASK: [], CUT: []}
        for offset, index in enumerate(indexes):
            if kind == PLAIN:
                text = batch[TEXT][offset] + (tokenizer.eos_token or "")
                spans = [(0, len(text))]
            else:
                text, spans = answer_spans(tokenizer, turns_of({k: v[offset] for k, v in batch.items()}, kind, data))
            ids, mask = encode_row(tokenizer, text, spans, completion_only and kind != PLAIN)
            if len(ids) > spec.max_length and spec.too_long == "refuse":
                raise DataError(f"split '{split}': row {index + 1} is {len(ids)} tokens long, over tokenizer.max_length "
                                f"({spec.max_length}); raise it, shorten the row, or set tokenizer.too_long: "
                                "truncate")
            out["input_ids"].append(ids[:spec.max_length])
            out[ANSWER_MASK].append(mask[:spec.max_length])
            out[CUT].append(int(len(ids) > spec.max_length))
        return out

    if not hasattr(dataset, "items"):
        return encode_splits(dataset, encoder("test"), with_indices=True)
    return type(dataset)({split: encode_splits(part, encoder(split), with_indices=True)
                          for split, part in dataset.items()})


def _data_spec(data: DataManifest) -> Any:
    from modelmill.config import DataSpec

    return DataSpec.model_construct(text_column=data.text_column, label_column=data.label_column)


def prompts_and_references(raw: datasets.Dataset, data: DataManifest) -> tuple[list[list[dict[str, str]]], list[str]]:
    """Each test row's conversation up to its last answer, and that answer (plain text has none: empty lists)."""
    kind = layout(raw.column_names, _data_spec(data))
    if kind == PLAIN:
        return [], []
    conversations = [turns_of(row, kind, data) for row in raw]
    return [turns[:-1] for turns in conversations], [turns[-1]["content"] for turns in conversations]


def generate_answers(model: Any, tokenizer: PreTrainedTokenizerBase, prompts: list[list[dict[str, str]]],
                     spec: EvaluateSpec, seed: int = 0) -> list[str]:
    """The model's answer to each prompt: batches padded on the left, `evaluate.generation`'s settings, the
    answer's text alone (special tokens dropped)."""
    import torch
    from transformers import set_seed

    prepare_tokenizer(tokenizer)
    tokenizer.padding_side = "left"
    settings = spec.generation
    stops = {"stop_strings": settings.stop_strings, "tokenizer": tokenizer} if settings.stop_strings else {}
    answers: list[str] = []
    set_seed(seed)
    for start in range(0, len(prompts), spec.batch_size):
        texts = [render(tokenizer, turns, prompt=True) for turns in prompts[start:start + spec.batch_size]]
        inputs = tokenizer(texts, add_special_tokens=False, padding=True, return_tensors="pt").to(model.device)
        with torch.no_grad():
            generated = model.generate(**inputs, **settings.options(), **stops, pad_token_id=tokenizer.pad_token_id)
        new = generated[:, inputs["input_ids"].shape[1]:]
        answers += [text.strip() for text in tokenizer.batch_decode(new, skip_special_tokens=True)]
    for stop in settings.stop_strings:  # generation stops after the stop string; the answer ends before it
        answers = [answer.split(stop)[0].strip() for answer in answers]
    return answers


def answer_perplexity(model: Any, test: datasets.Dataset, batch_size: int) -> float:
    """exp of the mean loss over the answers' tokens of the tokenized test rows (teacher-forced)."""
    import torch

    total, count = 0.0, 0
    for start in range(0, test.num_rows, batch_size):
        rows = test.select(range(start, min(start + batch_size, test.num_rows)))
        for ids, mask in zip(rows["input_ids"], rows[ANSWER_MASK], strict=True):
            if sum(mask[1:]) == 0:
                continue
            inputs = torch.tensor([ids], device=model.device)
            labels = torch.tensor([[t if m else -100 for t, m in zip(ids, mask, strict=True)]], device=model.device)
            with torch.no_grad():
                loss = model(input_ids=inputs, labels=labels).loss
            counted = int((labels[:, 1:] != -100).sum())
            total += float(loss) * counted
            count += counted
    mean = total / count if count else float("nan")
    return math.exp(mean) if mean < 700 else math.inf


def torch_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def worst_answers(prompts: list[list[dict[str, str]]], answers: list[str], references: list[str]) -> list[Mistake]:
    """The answers furthest from their reference (lowest token F1) beside it."""
    from modelmill.evaluation.generations import answer_scores
    from modelmill.manifests import Mistake

    scores = answer_scores(answers, references)
    order = sorted(range(len(answers)), key=lambda i: (scores[i], i))[:WORST_SHOWN]
    return [Mistake(row=i + 1, text=prompts[i][-1]["content"], label=references[i], predicted=answers[i],
                    probability=scores[i]) for i in order if scores[i] < 1.0]


def local_tokenizer(spec: PipelineSpec) -> PreTrainedTokenizerBase | None:
    """The tokenizer the tokenize stage will use, where this machine has it without a download or a GGUF conversion
    (a GGUF file's tokenizer is read from its metadata; None: the run loads it)."""
    from modelmill.training.loading import gguf_tokenizer, load_tokenizer
    from modelmill.training.resources import resolve_model_ref

    model = spec.model
    ref = spec.tokenizer.name_or_path or model.name_or_path
    if ref is None or model.from_pipeline is not None:
        return None
    folder = Path(resolve_model_ref(str(ref)))
    if not folder.is_dir():
        return None
    if model.gguf_file is not None and spec.tokenizer.name_or_path is None:
        if not (folder / model.gguf_file).is_file():
            return None  # the model's check names the missing file
        tokenizer = gguf_tokenizer(model)
    else:
        tokenizer = load_tokenizer(str(ref), model)
    if spec.tokenizer.chat_template is not None:
        tokenizer.chat_template = spec.tokenizer.chat_template.read_text(encoding="utf-8")
    return tokenizer


def rendering_problems(where: str, spec: PipelineSpec, dataset: datasets.DatasetDict) -> list[str]:
    """What the tokenize stage would refuse, found before any work: no chat template, one that cannot tell the
    answers apart, a row over max_length with `too_long: refuse` (every row then; else a few of each split)."""
    from modelmill.manifests import DataManifest

    tokenizer = local_tokenizer(spec)
    if tokenizer is None:
        return []
    data = DataManifest(key="check", path=Path("."), fingerprint="", labels=[], label_ids={},
                        text_column=spec.data.text_column, label_column=spec.data.label_column, num_rows={},
                        source="", task=TEXT_GENERATION)
    if spec.tokenizer.too_long != "refuse":
        dataset = type(dataset)({split: part.select(range(min(part.num_rows, 8))) for split, part in dataset.items()})
    try:
        tokenize_rows(dataset, tokenizer, data, spec.tokenizer)
    except (ConfigError, DataError) as exc:
        sources = spec.data.split_files()
        named = next((f"{sources[split]}: " for split in sources if f"split '{split}'" in str(exc)), "")
        return [f"{where}.tokenizer: {named}{exc}"]
    return []


class TextGeneration(UnlabelledRows):
    name = TEXT_GENERATION
    pipeline_tag = TEXT_GENERATION
    columns = ("prompt", "completion")
    metrics = METRICS
    default_metrics = DEFAULT_METRICS  # json_valid only where named (structured answers)
    baselines = ("untuned",)  # evaluate.baselines.must_beat may name these
    not_available = ("sets", "slices", "decision_threshold", "class_thresholds", "retention")
    training_metrics = None  # validation: the loss
    check_split = staticmethod(check_split)

    def read(self, spec: DataSpec) -> tuple[datasets.DatasetDict, list[str], dict[str, int], str]:
        from modelmill.task_types.splits import read_checked

        dataset, source, layouts = read_checked(spec, self.check_split)
        if len(set(layouts.values())) > 1:
            raise DataError(f"{source}: the splits are written differently ({', '.join(f'{split}: {kind}' for split, kind in layouts.items())}); "
                            "write them alike")
        return dataset, [], {}, source

    def check_files(self, where: str, spec: PipelineSpec) -> tuple[list[str], dict[str, list[str]]]:
        problems, columns = super().check_files(where, spec)
        if spec.evaluate.json_schema is not None:
            from modelmill.evaluation.generations import read_schema

            try:
                read_schema(spec.evaluate.json_schema)
            except ValueError as exc:
                problems.append(f"{where}.evaluate.json_schema: {exc}")
        if spec.tokenizer.chat_template is not None and not spec.tokenizer.chat_template.is_file():
            problems.append(f"{where}.tokenizer.chat_template: no file {spec.tokenizer.chat_template}")
        test = columns.get("test", columns.get("train"))
        answered = [name for name in spec.evaluate.metrics if name != "perplexity"]
        if test is not None and not problems and MESSAGES not in test and TEXT in test and answered and \
                spec.data.label_column not in test:
            problems.append(f"{where}.evaluate.metrics: {answered} score answers, and plain-text rows have no "
                            "prompt to answer: measure [perplexity] only")
        if not problems and spec.data.hub is None:
            problems += rendering_problems(where, spec, self.read(spec.data)[0])
        return problems, columns

    def tokenize(self, dataset: Any, tokenizer: PreTrainedTokenizerBase, data: DataManifest, spec: TokenizerSpec
                 ) -> Any:
        return tokenize_rows(dataset, tokenizer, data, spec)

    def load_model(self, model: ModelSpec, labels: list[str]) -> PreTrainedModel:
        from transformers import AutoModelForCausalLM

        from modelmill.training.loading import load_pretrained

        return load_pretrained(AutoModelForCausalLM, model)

    def collator(self, tokenizer: PreTrainedTokenizerBase) -> Any:
        return None  # SFTTrainer's own: pads (or, packing, concatenates without padding) and masks the labels

    @staticmethod
    def trainer(spec: Any, max_length: int, args: Any, **parts: Any) -> Any:
        """TRL's SFTTrainer with the run's arguments: the answers' tokens only in the loss (completion mask),
        optional best-fit packing (padding-free: positions restart per row, no attention across rows)."""
        from trl import SFTConfig, SFTTrainer

        parts.pop("data_collator", None)
        parts.pop("compute_metrics", None)
        config = SFTConfig(**args.to_dict(), completion_only_loss=spec.completion_only_loss, packing=spec.packing,
                           max_length=max_length, dataset_num_proc=None)
        return SFTTrainer(args=config, **parts)

    def score(self, folder: Path, names: list[str], test: datasets.Dataset, data: DataManifest, spec: EvaluateSpec,
              labels: list[str]) -> Scores:
        """The model in `folder` answers the test prompts: its answers scored against the references (the worst
        kept beside them), and the perplexity of the references."""
        import datasets
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from modelmill.evaluation.generations import generation_metrics, read_schema
        from modelmill.manifests import Scores
        from modelmill.storage.home import local_copy
        from modelmill.training.adapters import load_trained

        raw = datasets.load_from_disk(str(local_copy(data.path)))["test"]
        prompts, references = prompts_and_references(raw, data)
        model = load_trained(AutoModelForCausalLM, folder)
        if torch_cuda():
            model = model.to("cuda")
        model.eval()
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        metrics: dict[str, float] = {}
        worst: list[Mistake] = []
        answered = [name for name in spec.metrics if name != "perplexity"]
        if answered and not prompts:
            raise ConfigError(f"evaluate.metrics: {answered} score answers, and plain-text rows have no prompt to "
                              "answer: measure [perplexity] only")
        if answered:
            answers = generate_answers(model, tokenizer, prompts, spec)
            schema = read_schema(spec.json_schema) if spec.json_schema is not None else None
            metrics.update(generation_metrics(answers, references, answered, schema))
            worst = worst_answers(prompts, answers, references)
        if "perplexity" in spec.metrics:
            metrics["perplexity"] = answer_perplexity(model, test, spec.batch_size)
        return Scores(name="test", num_examples=raw.num_rows, metrics={n: metrics[n] for n in spec.metrics},
                      worst=worst)

    evaluate = scored_evaluation
    score_published = published_scores


TASK = TextGeneration()
