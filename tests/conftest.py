"""Shared fixtures: offline environment, tiny model and data, pipelines.yaml writer, loopback Hub, Prefect harness."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Before any library reads its settings: offline, LFS-only Hub protocol, isolated state, loopback only.
_STATE = Path(tempfile.mkdtemp(prefix="modelmill-tests-"))
_GUARD = Path(__file__).parent / "network_guard"
os.environ.update(
    {
        # processes the tests start run this checkout's code, behind the loopback guard
        "PYTHONPATH": os.pathsep.join(filter(None, [str(_GUARD), str(_GUARD.parents[1]), os.environ.get("PYTHONPATH")])),
        "MODELMILL_TEST_NETWORK_LOG": str(_STATE / "network.log"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # the test harness's own server
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "MODELMILL_HOME": str(_STATE / "modelmill"),
        "PREFECT_HOME": str(_STATE / "prefect-home"),
        "PREFECT_LOCAL_STORAGE_PATH": str(_STATE / "prefect-results"),
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
        # one CPU thread per process: the tiny models gain nothing from more, and two test workers on two cores
        # with two threads each spent their time waiting for each other (torch reads it when first imported)
        "OMP_NUM_THREADS": "1",
    }
)
for _secret in ("HF_TOKEN", "MODELMILL_HF_TOKEN"):
    os.environ.pop(_secret, None)
_spec = importlib.util.spec_from_file_location("modelmill_network_guard", _GUARD / "sitecustomize.py")
_spec.loader.exec_module(importlib.util.module_from_spec(_spec))  # this process too: processes it starts load it

import pytest  # noqa: E402
import yaml  # noqa: E402

from tests.hub_server import LoopbackHub  # noqa: E402
from tests.object_store import S3Server, start_redis, start_s3  # noqa: E402
from tests.patience import factor, patient  # noqa: E402

if TYPE_CHECKING:
    from modelmill.manifests import TokenizedManifest

SLOW_FOLDERS = ("flows", "server")  # whole runs, real servers


# the longest test files (measured: minutes each), run first: with one file per worker (`--dist loadfile`), a
# long file that starts last keeps one worker busy after the other has finished
LONGEST_FIRST = (
    "flows/test_on_ray.py", "server/test_real_server.py", "server/test_remote_home.py", "server/test_data_trigger.py",
    "flows/test_task_types.py", "flows/test_secrets_at_rest.py", "flows/test_promotion.py", "server/test_cli_runs.py",
    "tasks/test_train_processes.py", "flows/test_adapters.py", "flows/test_search.py", "flows/test_run_lifecycle.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`slow`: a test that runs a flow or a task on a Prefect API, trains, or starts a server; `make test-fast`
    (`pytest -m "not slow"`) leaves them out. The longest files go first, each file's tests in their order."""
    root = Path(__file__).parent
    for item in items:
        folder = item.path.relative_to(root).parts[0]
        if folder in SLOW_FOLDERS or "prefect" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
    rank = {name: number for number, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.relative_to(root).as_posix(), len(rank)))  # stable


def pytest_report_header() -> str:
    """Measured as the run starts: every bound the tests wait within is scaled by it."""
    return f"modelmill patience: x{factor():.1f} (tests/patience.py; MODELMILL_TEST_PATIENCE overrides)"


POSITIVE = ["great", "excellent", "wonderful", "lovely", "superb", "fantastic", "good", "brilliant"]
NEGATIVE = ["awful", "terrible", "horrible", "dreadful", "poor", "bad", "boring", "broken"]
THINGS = ["film", "phone", "meal", "book", "hotel", "game"]

# Training settings at which the tiny model learns the review task (test accuracy >= 0.92) from each of 30 initial
# weights and 2 training seeds tried; at 8 epochs of 2e-3 it failed from 3 of 12, which is how a machine whose
# floating point differs could turn a passing test red.
LEARNS_THE_TASK = {"epochs": 12, "learning_rate": 3e-3}


def review_rows(seed: int, count: int) -> list[dict[str, str]]:
    """Short reviews whose sentiment word decides the label; deterministic for a seed."""
    import random

    rng = random.Random(seed)
    rows = []
    for i in range(count):
        label = "positive" if i % 2 == 0 else "negative"
        word = rng.choice(POSITIVE if label == "positive" else NEGATIVE)
        rows.append({"text": f"the {rng.choice(THINGS)} was {word} {rng.choice(['', 'really ', 'so '])}today {i}", "label": label})
    return rows


PEOPLE = ["anna", "omar", "li wei", "maria", "jon"]
PLACES = ["paris", "oslo", "new york", "lagos", "lima"]


def ner_rows(seed: int, count: int) -> list[dict[str, list[str]]]:
    """Short sentences with people (PER) and places (LOC), tagged IOB2 per word; deterministic for a seed."""
    import random

    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        person, place = rng.choice(PEOPLE).split(), rng.choice(PLACES).split()
        words = [*person, "was", rng.choice(["in", "near", "at"]), *place, "today"]
        tags = (["B-PER"] + ["I-PER"] * (len(person) - 1) + ["O", "O"] + ["B-LOC"] + ["I-LOC"] * (len(place) - 1)
                + ["O"])
        rows.append({"tokens": words, "tags": tags})
    return rows


def qa_rows(seed: int, count: int, unanswerable: float = 0.0) -> list[dict[str, Any]]:
    """SQuAD-style rows: a short context about one person, a question about one of its facts and the answer with
    its start character; a share `unanswerable` asks about someone the context does not mention."""
    import random

    rng = random.Random(seed)
    rows = []
    for index in range(count):
        person, other = rng.sample(["anna", "omar", "maria", "jon"], 2)
        facts = {"where was {} born ?": rng.choice(PLACES), "what does {} drink ?": rng.choice(["tea", "milk"]),
                 "who does {} know ?": rng.choice(["li wei", "kofi"])}
        context = (f"{person} was born in {facts['where was {} born ?']} . {person} likes to drink "
                   f"{facts['what does {} drink ?']} every day . {person} knows {facts['who does {} know ?']} well .")
        question = rng.choice(sorted(facts))
        if rng.random() < unanswerable:
            answers = {"text": [], "answer_start": []}
            question = question.format(other)
        else:
            answer = facts[question]
            answers = {"text": [answer], "answer_start": [context.index(f" {answer} ") + 1]}
            question = question.format(person)
        rows.append({"id": f"q{seed}-{index}", "context": context, "question": question, "answers": answers})
    return rows


def summary_rows(seed: int, count: int) -> list[dict[str, str]]:
    """Three-sentence reviews and their one-sentence summary (what, and how it was), in the words of the tiny
    tokenizer's vocabulary."""
    import random

    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        thing, word = rng.choice(THINGS), rng.choice(POSITIVE + NEGATIVE)
        other = rng.choice([name for name in THINGS if name != thing])
        text = f"the {other} was so today . the {thing} was {word} . the {thing} was really {word} today ."
        rows.append({"text": text, "summary": f"the {thing} was {word} ."})
    return rows


FRUITS = {"banana": "yellow", "apple": "red", "lime": "green", "plum": "purple", "orange": "orange",
          "blueberry": "blue"}
ASKINGS = ("what colour is the {}", "tell me the colour of the {} please", "the {} has which colour",
           "which colour does a {} have", "colour of the {}")
CHATML = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def chat_rows(seed: int, count: int, system: bool = False) -> list[dict[str, Any]]:
    """Chat rows asking the colour of a fruit (in several phrasings), answered with the colour: a checkable answer
    a tiny model learns in a few epochs."""
    import random

    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        fruit = rng.choice(sorted(FRUITS))
        turns = [{"role": "system", "content": "answer with one word"}] if system else []
        turns += [{"role": "user", "content": rng.choice(ASKINGS).format(fruit)},
                  {"role": "assistant", "content": FRUITS[fruit]}]
        rows.append({"messages": turns})
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


SESSION_HOME = Path(os.environ["MODELMILL_HOME"])  # where flow results go (the flow reads the home at import)


@pytest.fixture(autouse=True)
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test runs against a home of its own: identities are content, so equal inputs in two tests would
    otherwise share one cache."""
    home = tmp_path / "modelmill-home"
    monkeypatch.setenv("MODELMILL_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def loopback_only() -> Iterator[None]:
    """Fail the test during which any process of the suite tried to reach a host that is not loopback."""
    log = Path(os.environ["MODELMILL_TEST_NETWORK_LOG"])
    before = log.stat().st_size if log.exists() else 0
    yield
    if log.exists() and log.stat().st_size > before:
        with log.open("rb") as handle:
            handle.seek(before)
            attempts = handle.read().decode(errors="replace")
        pytest.fail(f"a process tried to leave loopback:\n{attempts}")


@pytest.fixture(scope="session")
def tiny_seq2seq_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BART (one encoder and one decoder layer, new weights) with the tiny WordPiece tokenizer: a
    sequence-to-sequence model built from a config, as for summarization where no pretrained one ships."""
    import torch
    from tokenizers import decoders
    from transformers import AutoTokenizer, BartConfig, BartForConditionalGeneration, GenerationConfig

    folder = tmp_path_factory.mktemp("tiny-bart")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    # as BART: targets are [CLS] ... [SEP] (<s> ... </s>); decoding starts from [SEP] (</s>)
    ids = {"pad_token_id": tokenizer.pad_token_id, "bos_token_id": tokenizer.cls_token_id,
           "eos_token_id": tokenizer.sep_token_id, "decoder_start_token_id": tokenizer.sep_token_id,
           "forced_eos_token_id": tokenizer.sep_token_id}
    config = BartConfig(vocab_size=len(tokenizer), d_model=32, encoder_layers=1, decoder_layers=1,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                        max_position_embeddings=64, **ids)
    torch.manual_seed(0)
    model = BartForConditionalGeneration(config)
    model.generation_config = GenerationConfig(**ids)
    model.save_pretrained(folder)
    tokenizer.backend_tokenizer.decoder = decoders.WordPiece()  # generated pieces are read back as words
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_chat_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama (two layers, new weights) with a word-level tokenizer over the chat rows' words and a ChatML
    template: a causal chat model built from a config, as text-generation tests need."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-llama")
    specials = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>"]
    words = {word for asking in ASKINGS for word in asking.replace("{}", "").split()}
    words |= set(FRUITS) | set(FRUITS.values()) | {"user", "assistant", "system", "answer", "with", "one", "word",
                                                   "{", "}", '"', ":", ",", "colour"}
    vocabulary = {token: index for index, token in enumerate(specials + sorted(words))}
    tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace()])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", pad_token="<pad>",
                                   bos_token="<|im_start|>", eos_token="<|im_end|>", model_max_length=128)
    fast.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    fast.chat_template = CHATML
    fast.save_pretrained(folder)
    ids = {"pad_token_id": fast.pad_token_id, "bos_token_id": fast.bos_token_id, "eos_token_id": fast.eos_token_id}
    config = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                         tie_word_embeddings=True, **ids)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(**ids)
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer BERT encoder from `BertConfig` (no classification head: fine-tuning adds a new one, as with a
    real pretrained model) plus a WordPiece tokenizer trained on the test vocabulary."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    corpus = [row["text"] for row in review_rows(0, 200)]
    tokenizer.train_from_iterator(corpus, trainers.WordPieceTrainer(vocab_size=300, special_tokens=specials))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        special_tokens=[("[CLS]", tokenizer.token_to_id("[CLS]")), ("[SEP]", tokenizer.token_to_id("[SEP]"))],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]", model_max_length=64,
    )
    fast.save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(fast), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64, pad_token_id=fast.pad_token_id,
    )
    torch.manual_seed(0)  # the same base weights in every session
    BertModel(config).save_pretrained(folder)
    return folder


@pytest.fixture
def review_files(tmp_path: Path) -> dict[str, Path]:
    """train/validation/test CSVs (text,label with label names)."""
    return {
        "train": write_csv(tmp_path / "data" / "train.csv", review_rows(1, 48)),
        "validation": write_csv(tmp_path / "data" / "validation.csv", review_rows(2, 12)),
        "test": write_csv(tmp_path / "data" / "test.csv", review_rows(3, 12)),
    }


@pytest.fixture
def review_data(review_files: dict[str, Path], tmp_path: Path) -> tuple[Any, Any]:
    """The review CSVs as read by `load_data` (a DatasetDict) and their manifest, without Prefect."""
    from modelmill.config import DataSpec
    from modelmill.manifests import DataManifest
    from tasks.load_data import read_data

    dataset, labels, mapping, source = read_data(DataSpec(files=review_files))
    manifest = DataManifest(
        key="test", path=tmp_path, fingerprint="test", labels=labels, label_ids=mapping, text_column="text",
        label_column="label", num_rows=dataset.num_rows, source=source,
    )
    return dataset, manifest


@pytest.fixture
def tokens(review_data, tiny_model_dir: Path, tmp_path: Path) -> TokenizedManifest:
    """The review splits tokenized for the tiny model (max length 32), saved under the test's folder."""
    from modelmill.config import ModelSpec
    from modelmill.manifests import TokenizedManifest
    from modelmill.training.loading import load_tokenizer
    from modelmill.training.tokenizing import tokenize_splits

    dataset, data = review_data
    tokenizer = load_tokenizer(str(tiny_model_dir), ModelSpec(name_or_path=str(tiny_model_dir)))
    tokenize_splits(dataset, tokenizer, data, 32).save_to_disk(str(tmp_path / "tokens"))
    return TokenizedManifest(key="t", path=tmp_path / "tokens", tokenizer=str(tiny_model_dir), labels=data.labels)


@pytest.fixture
def chat_tokens(tiny_chat_dir: Path, tmp_path: Path) -> TokenizedManifest:
    """Chat rows (32 train, 8 validation, 8 test) rendered with a template of the pipeline's own (not the
    tokenizer's) and tokenized for the tiny Llama (max length 32), saved under the test's folder."""
    import datasets
    from transformers import AutoTokenizer

    from modelmill.config import TokenizerSpec
    from modelmill.manifests import DataManifest, TokenizedManifest
    from modelmill.task_types.text_generation import tokenize_rows

    template = CHATML + "{# the pipeline's #}"
    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_dir)
    tokenizer.chat_template = template
    data = DataManifest(key="d", path=tmp_path, fingerprint="f", labels=[], label_ids={}, text_column="prompt",
                        label_column="completion", num_rows={}, source="s", task="text-generation")
    splits = datasets.DatasetDict({split: datasets.Dataset.from_list(chat_rows(seed, count))
                                   for seed, split, count in ((1, "train", 32), (2, "validation", 8), (3, "test", 8))})
    tokenize_rows(splits, tokenizer, data, TokenizerSpec(max_length=32)).save_to_disk(str(tmp_path / "chat-tokens"))
    return TokenizedManifest(key="t", path=tmp_path / "chat-tokens", tokenizer=str(tiny_chat_dir), labels=[],
                             max_length=32, task="text-generation", chat_template=template)


def pipeline_dict(model_dir: Path, files: dict[str, Path], hub_url: str = "http://127.0.0.1:9") -> dict[str, Any]:
    """A small, valid pipeline section for tests: 2 epochs of a tiny model, no retry delay.

    Two epochs do not teach the tiny model the task (`LEARNS_THE_TASK` does), so the majority-baseline gate, on by
    default, is off here; the tests of that gate delete `evaluate.baselines`.
    """
    return {
        "description": "test pipeline",
        "data": {"files": {split: str(path) for split, path in files.items()}, "labels": ["negative", "positive"]},
        "validation": {"expectations": [
            {"expect_column_values_to_not_be_null": {"column": "text"}},
            {"expect_column_values_to_be_in_set": {"column": "label", "value_set": ["negative", "positive"]}},
        ]},
        "model": {"name_or_path": str(model_dir)},
        "tokenizer": {"max_length": 32},
        "train": {"epochs": 2, "learning_rate": 5e-3, "batch_size": 8, "logging_steps": 1},
        "evaluate": {"metrics": ["accuracy", "f1"], "thresholds": {"accuracy": {"min": 0.0}},
                     "baselines": {"must_beat": []}},
        "push": {"repo_id": "tests/tiny-sentiment", "endpoint": hub_url, "private": True},
        "retries": {"max_retries": 2, "delay_seconds": 0, "jitter_factor": 0},
    }


@pytest.fixture
def write_pipelines(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    """Write a pipelines.yaml holding the given pipelines and return its path."""

    def write(pipelines: dict[str, Any], name: str = "pipelines.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump({"pipelines": pipelines}, sort_keys=False), encoding="utf-8")
        return path

    return write


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackHub]:
    """A loopback Hub-compatible server on 127.0.0.1 with fault injection (`hub.state.fail_next`).

    Hub offline mode is lifted while it runs: pushes go to its 127.0.0.1 endpoint and nowhere else (the tests' own
    clients too: their telemetry, which fetches a registry from the public Hub, is off as modelmill's is).
    """
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    with LoopbackHub() as server:
        yield server


@pytest.fixture
def hub_token(hub: LoopbackHub, monkeypatch: pytest.MonkeyPatch) -> str:
    """Expose the loopback Hub's token through HF_TOKEN, as a user would."""
    monkeypatch.setenv("HF_TOKEN", hub.state.token)
    return hub.state.token


@pytest.fixture(scope="session", autouse=True)
def great_expectations_loaded() -> None:
    """GX imported once per test process: the checks of `run` and `check` then build the rules here, instead of in
    the child process each one starts in a fresh process (seconds of CPU each, a few hundred times per suite).
    tests/modelmill/test_library_index.py covers the child."""
    import great_expectations  # noqa: F401


@pytest.fixture(scope="session")
def prefect() -> Iterator[None]:
    """A temporary Prefect API and database for tests that run tasks or flows. No flow heartbeats, as on the
    temporary server of `modelmill run` (modelmill.runtime.server): this server dies with the tests, and joining
    the heartbeat thread, which sleeps in whole seconds, cost up to a second per flow run."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=int(patient(120))), temporary_settings(
            updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server on 127.0.0.1, one per test run, with one bucket; each test takes a prefix of its own."""
    server, s3 = start_s3()
    try:
        yield s3
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis server on 127.0.0.1, one per test run."""
    process, url = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
