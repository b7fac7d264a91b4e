"""The demo: its generated corpus, its data pieces, and its model trained by the real Trainer."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

import statetrainer as st
from statetrainer.demos import corpus
from statetrainer.demos.corpus import CORPUS_FILE, TRANSITIONS, generate_corpus, read_corpus
from statetrainer.demos.tokenizer import Vocabulary
from statetrainer.demos.windows import TokenWindows

PARAGRAPHS = read_corpus().splitlines()


# --- the corpus -------------------------------------------------------------------------


def test_shipped_corpus_is_exactly_what_the_generator_writes():
    assert generate_corpus().encode("ascii") == CORPUS_FILE.read_bytes()


def test_generator_depends_on_the_seed_only():
    first = generate_corpus(seed=7, target_chars=3000)
    assert first == generate_corpus(seed=7, target_chars=3000)
    assert first != generate_corpus(seed=8, target_chars=3000)
    assert len(first) >= 3000 and first.endswith(".\n")


def test_corpus_size_is_a_few_hundred_kilobytes():
    assert 200_000 <= CORPUS_FILE.stat().st_size <= 300_000
    assert len(PARAGRAPHS) > 500


def test_check_mode_reports_the_shipped_file_up_to_date(capsys):
    assert corpus.main(["--check"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_every_article_agrees_with_the_next_word():
    for line in PARAGRAPHS:
        words = line.split()
        for article, following in zip(words, words[1:]):
            if article in ("a", "an") and following != "while":
                assert article == corpus.article(following), line


def is_past(line: str) -> bool:
    return " started in the " in line


def test_pronouns_and_verbs_agree_with_the_paragraph_subject():
    for line in PARAGRAPHS:
        words = line.split()
        plural = words[0] not in ("a", "an")
        assert not (set(words) & ({"it"} if plural else {"they", "them"})), line
        be = [w for w in words if w in ("is", "are", "was", "were")][-1]  # the closing sentence
        assert be == {(False, False): "is", (False, True): "are", (True, False): "was",
                      (True, True): "were"}[(is_past(line), plural)], line
        if is_past(line):
            continue
        for subject, verb in re.findall(r"(?:^|[,.] |when |then )(it|they) (\w+)", line):
            assert verb.endswith("s") == (subject == "it"), (subject, verb, line)


def test_relative_clauses_agree_with_their_head_not_the_nearer_noun():
    pattern = re.compile(r"the (\w+) that (\w+) the (\w+) (\w+) the change")
    attracted = 0
    for line in filter(lambda line: not is_past(line), PARAGRAPHS):
        for head, verb, noun, main_verb in pattern.findall(line):
            plural_head = head.endswith("s")
            assert (verb, main_verb) == (("watch", "log") if plural_head else ("watches", "logs"))
            attracted += plural_head != noun.endswith("s")
    assert attracted > 50


TRANSITION_FORMS = (
    r"when .* an? (?P<signal>\w+) signal , \w+ (?:leaves|leave|left) the (?P<source>\w+) state"
    r" and (?:enters|enter|entered) the (?P<target>\w+) state",
    r"^an? (?P<signal>\w+) signal (?:moves|moved) \w+ from the (?P<source>\w+) state"
    r" to the (?P<target>\w+) state",
    r"^then .* (?:gets|get|got) an? (?P<signal>\w+) signal and (?:goes|go|went)"
    r" to the (?P<target>\w+) state",
    r"(?:ignores|ignore|ignored) the (?P<signal>\w+) signal and (?:stays|stay|stayed)"
    r" in the (?P<source>\w+) state",
)


def walk(line: str) -> list[tuple[str, str, str]]:
    """(state before, signal, state after) for every step the paragraph describes."""
    sentences = line.removesuffix(" .").split(" . ")
    state = re.search(r" start(?:s|ed)? in the (\w+) state$", sentences[0]).group(1)
    steps = []
    for sentence in sentences[1:-1]:
        for form in TRANSITION_FORMS:
            found = re.search(form, sentence)
            if found:
                parts = found.groupdict()
                assert parts.get("source", state) == state, line
                steps.append((state, parts["signal"], parts.get("target", state)))
                state = steps[-1][2]
    assert re.search(r" in the (\w+) state$", sentences[-1]).group(1) == state, line
    return steps


def test_state_walks_follow_the_transition_table():
    moves = ignores = 0
    for line in PARAGRAPHS:
        for before, signal, after in walk(line):
            if (before, signal) in TRANSITIONS:
                assert TRANSITIONS[(before, signal)] == after, line
                moves += 1
            else:
                assert before == after, line
                ignores += 1
    assert moves > 1000 and ignores > 100


# --- tokenizer and windows --------------------------------------------------------------


def test_vocabulary_round_trips_the_corpus_and_marks_unknown_words():
    vocab = Vocabulary.from_text(read_corpus())
    text = "\n".join(PARAGRAPHS[:3])
    ids = vocab.encode(text)
    assert ids.count(vocab.ids["<eos>"]) == 3
    assert vocab.decode(ids) == text + "\n"
    assert vocab.encode("the zeppelin") == [vocab.ids["the"], vocab.ids["<unk>"], vocab.ids["<eos>"]]
    assert vocab.words[:2] == ["<eos>", "<unk>"] and vocab.words[2:] == sorted(vocab.words[2:])
    assert len(vocab) == len(set(read_corpus().split())) + 2


def test_token_windows_shift_targets_by_one():
    windows = TokenWindows(torch.arange(10), seq_len=3, stride=2)
    assert len(windows) == 4
    inputs, targets = windows[1]
    assert inputs.tolist() == [2, 3, 4] and targets.tolist() == [3, 4, 5]
    assert windows[3][1].tolist() == [7, 8, 9]
    with pytest.raises(IndexError):
        windows[4]
    assert len(TokenWindows(torch.arange(3), seq_len=3)) == 0


# --- data module, model and the real Trainer --------------------------------------------


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from a second thread, and lose a lot on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_parts(seq_len: int = 16):
    from statetrainer.demos.data import CorpusDataModule
    from statetrainer.demos.model import TransformerLanguageModel

    datamodule = CorpusDataModule(seq_len=seq_len, batch_size=16, train_stride=seq_len)
    model = TransformerLanguageModel(
        datamodule.vocab_size, seq_len=seq_len, d_model=32, n_heads=2, n_layers=1, d_ff=64,
        lr=1e-2, warmup_steps=5,
    )
    return datamodule, model


def test_data_module_splits_paragraphs_without_overlap():
    datamodule, _ = tiny_parts()
    parts = datamodule.split_text()
    lines = {name: text.splitlines() for name, text in parts.items()}
    assert lines["train"] + lines["val"] + lines["test"] == PARAGRAPHS
    assert len(lines["val"]) == len(lines["test"]) == len(PARAGRAPHS) // 10
    datamodule.setup("fit")
    inputs, targets = next(iter(datamodule.val_dataloader()))
    assert inputs.shape == targets.shape == (16, 16)
    assert torch.equal(inputs[0, 1:], targets[0, :-1])


def test_model_is_causal():
    torch.manual_seed(0)
    _, model = tiny_parts()
    model.eval()
    tokens = torch.randint(0, model.hparams.vocab_size, (2, 16))
    changed = tokens.clone()
    changed[:, 10:] = (changed[:, 10:] + 1) % model.hparams.vocab_size
    with torch.no_grad():
        before, after = model(tokens), model(changed)
    assert before.shape == (2, 16, model.hparams.vocab_size)
    assert torch.allclose(before[:, :10], after[:, :10], atol=1e-5)
    assert not torch.allclose(before[:, 10:], after[:, 10:])


def test_trainer_fit_lowers_the_validation_loss(tmp_path):
    st.seed_everything(0)
    datamodule, model = tiny_parts()
    trainer = st.Trainer(
        max_epochs=2, limit_train_batches=40, limit_val_batches=4, limit_test_batches=4,
        logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=tmp_path,
    )
    start = trainer.validate(model, datamodule=datamodule, verbose=False)[0]["val_loss"]
    trainer.fit(model, datamodule=datamodule)
    end = float(trainer.callback_metrics["val_loss"])
    test = trainer.test(model, datamodule=datamodule, verbose=False)[0]["test_loss"]
    assert trainer.global_step == 80
    assert start > 4.5  # about ln(vocabulary size) before training
    assert end < start - 2.0 and abs(test - end) < 0.5


def test_command_line_demo_reports_a_falling_loss(tmp_path, capsys):
    from statetrainer.demos.transformer import main

    argv = [
        "--seq_len", "16", "--batch_size", "16", "--train_stride", "16", "--d_model", "32",
        "--n_heads", "2", "--n_layers", "1", "--d_ff", "64", "--lr", "0.01", "--warmup_steps", "5",
        "--sample_words", "8", "--max_epochs", "2", "--limit_train_batches", "30",
        "--limit_val_batches", "4", "--limit_test_batches", "4", "--enable_progress_bar", "False",
        "--default_root_dir", str(tmp_path), "--record", str(tmp_path / "figures" / "run.json"),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    record = json.loads((tmp_path / "figures" / "run.json").read_text())
    assert record["optimizer_steps"] == 60 and f"in {record['fit_seconds']} s" in out
    assert record["command"].endswith("--record " + str(tmp_path / "figures" / "run.json"))
    assert [line for line in record["output"] if line.startswith(("fit:", "test loss:"))] == [
        line for line in out.splitlines() if line.startswith(("fit:", "test loss:"))]
    found = re.search(r"validation loss: ([\d.]+) at the start -> ([\d.]+) at the end", out)
    assert found, out
    assert float(found.group(2)) < float(found.group(1)) - 1.5
    assert re.search(r"after each validation in fit: [\d.]+ [\d.]+\)", out), out
    assert re.search(r"^fit: 60 optimizer steps in [\d.]+ s$", out, re.M), out
    assert 'sample (greedy, prompt "a new pump starts in the"):' in out
    assert re.search(r"^test loss: [\d.]+ \(perplexity [\d.]+\)$", out, re.M), out
    assert re.search(r"^stop reason: .*max_epochs", out, re.M), out
    assert f"logs: {tmp_path}" in out
    best = re.search(r"^checkpoints: .* \(best: (.+)\)$", out, re.M)
    assert best and Path(best.group(1)).is_file(), out


# --- the command lines: today's flags and the StateCLI entry -----------------------------


def test_plain_help_shows_the_demos_own_defaults(capsys):
    from statetrainer.demos.transformer import main

    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 4)" in text and "(default: 150)" in text and "(default: 20)" in text
    assert "(default: None)" not in text.split("--max_epochs MAX_EPOCHS", 2)[2].split("--min_epochs")[0]
    assert "fit --help" in text


def test_cli_entry_prints_a_config_with_the_demos_defaults(capsys):
    pytest.importorskip("jsonargparse")
    import yaml

    from statetrainer.demos.transformer import main

    with pytest.raises(SystemExit) as stop:
        main(["fit", "--model.d_model=48", "--print_config"])
    assert stop.value.code == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["seed_everything"] == 42 and config["sample_words"] == 40
    assert (config["trainer"]["max_epochs"], config["trainer"]["limit_train_batches"]) == (4, 150)
    assert config["model"]["d_model"] == 48 and "vocab_size" not in config["model"]  # linked from the data
    assert config["data"]["seq_len"] == 32


TINY = {"seq_len": 16, "batch_size": 16, "train_stride": 16, "d_model": 32, "n_heads": 2, "n_layers": 1, "d_ff": 64,
        "lr": 0.01, "warmup_steps": 5}
TINY_TRAINER = {"max_epochs": 1, "limit_train_batches": 20, "limit_val_batches": 4, "limit_test_batches": 4,
                "enable_progress_bar": "False"}


def report_lines(out: str) -> list[str]:
    """The demo's output without the timing and the folders (they differ between two runs)."""
    keep = ("validation loss:", "test loss:", "stop reason:", "sample", "  ")
    return [line for line in out.splitlines() if line.startswith(keep) and "|" not in line]


@pytest.mark.slow
def test_cli_entry_trains_exactly_as_the_plain_flags_do(tmp_path, capsys):
    pytest.importorskip("jsonargparse")
    from statetrainer.demos.transformer import main

    plain = [f"--{k}={v}" for k, v in {**TINY, **TINY_TRAINER}.items()] + ["--sample_words=8"]
    assert main([*plain, f"--default_root_dir={tmp_path / 'plain'}"]) == 0
    expected = report_lines(capsys.readouterr().out)
    data = {"seq_len", "batch_size", "train_stride"}
    cli = [f"--{'data' if k in data else 'model'}.{k}={v}" for k, v in TINY.items()]
    cli += [f"--trainer.{k}={v}" for k, v in TINY_TRAINER.items()] + ["--sample_words=8"]
    assert main(["fit", *cli, f"--trainer.default_root_dir={tmp_path / 'cli'}"]) == 0
    assert report_lines(capsys.readouterr().out) == expected and len(expected) >= 4
    assert (tmp_path / "cli" / "lightning_logs" / "version_0" / "config.yaml").is_file()
