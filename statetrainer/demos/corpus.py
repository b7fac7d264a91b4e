"""The demo's text: a small probabilistic grammar of English-like paragraphs about machines.

Each paragraph follows one machine (or a group of machines) through a fixed state machine::

    idle --arm--> ready --start--> running --pause--> paused --resume--> running
    ready --disarm--> idle      running/paused --stop--> stopped --reset--> idle
    running --fault--> failed --reset--> idle

so that a language model has real structure to learn:

* number agreement: "a pump starts" / "two pumps start", "it" / "they", "is" / "are",
  including across a relative clause ("the monitor that watches the pumps logs the change");
* a / an before a vowel ("an old valve", "an arm signal");
* one tense for the whole paragraph (present or past);
* state tracking: a sentence that leaves a state names the state the machine is in, and the
  state it enters is fixed by the transition table above (unknown signals are ignored);
* counting ("the clock counts one , two , three .").

The generator is deterministic: the same seed gives the same bytes on every platform, and
``corpus.txt`` next to this file is its committed output (``python -m
statetrainer.demos.corpus`` rewrites it; ``--check`` only compares).
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

CORPUS_FILE = Path(__file__).with_name("corpus.txt")
SEED = 1729
TARGET_CHARS = 240_000

MACHINES = (
    ("pump", "pumps"), ("valve", "valves"), ("relay", "relays"), ("switch", "switches"),
    ("sensor", "sensors"), ("robot", "robots"), ("engine", "engines"), ("motor", "motors"),
    ("elevator", "elevators"), ("turbine", "turbines"), ("actuator", "actuators"),
    ("gate", "gates"), ("router", "routers"), ("lamp", "lamps"), ("oscillator", "oscillators"),
)
WATCHERS = (
    ("monitor", "monitors"), ("operator", "operators"), ("logger", "loggers"),
    ("supervisor", "supervisors"), ("inspector", "inspectors"),
)
ADJECTIVES = ("old", "new", "small", "large", "quiet", "noisy", "main", "spare", "orange", "electric")
COUNTERS = ("clock", "counter", "timer")
NUMBERS = ("one", "two", "three", "four", "five", "six", "seven")
GROUP_SIZES = ("two", "three", "four", "several", "some")
MESSAGES = ("pulse", "message", "alarm", "tick", "echo", "request")

TRANSITIONS = {
    ("idle", "arm"): "ready",
    ("ready", "disarm"): "idle",
    ("ready", "start"): "running",
    ("running", "pause"): "paused",
    ("paused", "resume"): "running",
    ("running", "stop"): "stopped",
    ("paused", "stop"): "stopped",
    ("running", "fault"): "failed",
    ("failed", "reset"): "idle",
    ("stopped", "reset"): "idle",
}
SIGNALS = ("arm", "disarm", "start", "pause", "resume", "stop", "fault", "reset")
START_STATES = ("idle", "ready", "stopped")

# base: (present singular, present plural, past)
VERBS = {
    "be": ("is", "are", "was/were"),
    "start": ("starts", "start", "started"),
    "receive": ("receives", "receive", "received"),
    "get": ("gets", "get", "got"),
    "leave": ("leaves", "leave", "left"),
    "enter": ("enters", "enter", "entered"),
    "go": ("goes", "go", "went"),
    "move": ("moves", "move", "moved"),
    "ignore": ("ignores", "ignore", "ignored"),
    "stay": ("stays", "stay", "stayed"),
    "send": ("sends", "send", "sent"),
    "watch": ("watches", "watch", "watched"),
    "log": ("logs", "log", "logged"),
    "count": ("counts", "count", "counted"),
    "happen": ("happens", "happen", "happened"),
    "wait": ("waits", "wait", "waited"),
}


def article(word: str) -> str:
    """The indefinite article for the word that follows it."""
    return "an" if word[0] in "aeiou" else "a"


def conjugate(base: str, plural: bool, past: bool) -> str:
    """The verb form that agrees with a subject's number in the paragraph's tense."""
    singular_form, plural_form, past_form = VERBS[base]
    if past:
        if "/" in past_form:
            return past_form.split("/")[1 if plural else 0]
        return past_form
    return plural_form if plural else singular_form


class _Paragraph:
    """Writes one paragraph: one protagonist, one tense, one walk through the state machine."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.past = self.chance(40)
        self.plural = self.chance(35)
        self.noun = self.pick(MACHINES)
        self.adjective = self.pick(ADJECTIVES)
        self.state = self.pick(START_STATES)

    def chance(self, percent: int) -> bool:
        return self.rng.randrange(100) < percent

    def pick(self, options: tuple):
        return options[self.rng.randrange(len(options))]

    def verb(self, base: str, plural: bool | None = None) -> str:
        return conjugate(base, self.plural if plural is None else plural, self.past)

    def name(self) -> str:
        return self.noun[1] if self.plural else self.noun[0]

    def subject(self) -> str:
        if self.chance(60):
            return "they" if self.plural else "it"
        if self.chance(50):
            return f"the {self.adjective} {self.name()}"
        return f"the {self.name()}"

    def object_pronoun(self) -> str:
        return "them" if self.plural else "it"

    def opening(self) -> list[str]:
        noun = f"{self.adjective} {self.name()}"
        head = self.pick(GROUP_SIZES) if self.plural else article(self.adjective)
        return [head, *noun.split(), self.verb("start"), "in", "the", self.state, "state", "."]

    def closing(self) -> list[str]:
        lead = ["in", "the", "end"] if self.past else ["now"]
        return [*lead, self.subject(), self.verb("be"), "in", "the", self.state, "state", "."]

    def body(self) -> list[str]:
        if self.chance(60):
            return self.transition()
        return self.pick((self.send, self.watched, self.count, self.pause_line, self.waiting))()

    def transition(self) -> list[str]:
        signal = self.pick(self.legal_signals() if self.chance(80) else SIGNALS)
        target = TRANSITIONS.get((self.state, signal))
        if target is None:
            return self.ignored(signal)
        source, self.state = self.state, target
        form = self.rng.randrange(3)
        if form == 0:
            return [
                "when", self.subject(), self.verb("receive"), article(signal), signal, "signal",
                ",", self.subject_pronoun(), self.verb("leave"), "the", source, "state", "and",
                self.verb("enter"), "the", target, "state", ".",
            ]
        if form == 1:
            return [
                article(signal), signal, "signal", self.verb("move", plural=False),
                self.object_pronoun(), "from", "the", source, "state", "to", "the", target,
                "state", ".",
            ]
        return [
            "then", self.subject(), self.verb("get"), article(signal), signal, "signal", "and",
            self.verb("go"), "to", "the", target, "state", ".",
        ]

    def legal_signals(self) -> tuple[str, ...]:
        return tuple(signal for signal in SIGNALS if (self.state, signal) in TRANSITIONS)

    def subject_pronoun(self) -> str:
        return "they" if self.plural else "it"

    def ignored(self, signal: str) -> list[str]:
        return [
            self.subject(), self.verb("ignore"), "the", signal, "signal", "and",
            self.verb("stay"), "in", "the", self.state, "state", ".",
        ]

    def send(self) -> list[str]:
        message = self.pick(MESSAGES)
        other_plural = self.chance(40)
        other = self.pick(MACHINES)[1 if other_plural else 0]
        return [self.subject(), self.verb("send"), article(message), message, "to", "the", other, "."]

    def watched(self) -> list[str]:
        watcher_plural = self.chance(50)
        watcher = self.pick(WATCHERS)[1 if watcher_plural else 0]
        return [
            "the", watcher, "that", self.verb("watch", watcher_plural), "the", self.name(),
            self.verb("log", watcher_plural), "the", "change", ".",
        ]

    def count(self) -> list[str]:
        last = 2 + self.rng.randrange(len(NUMBERS) - 1)
        words = " , ".join(NUMBERS[:last]).split()
        counter = self.pick(COUNTERS)
        return ["the", counter, self.verb("count", plural=False), *words, "."]

    def pause_line(self) -> list[str]:
        return ["for", "a", "while", "nothing", self.verb("happen", plural=False), "."]

    def waiting(self) -> list[str]:
        many = self.chance(50)
        size = self.pick(GROUP_SIZES) if many else "one"
        other = self.pick(MACHINES)[1 if many else 0]
        return [size, other, self.verb("be", many), "waiting", "for", self.object_pronoun(), "."]

    def write(self) -> str:
        words = self.opening()
        for _ in range(3 + self.rng.randrange(4)):
            words += self.body()
        words += self.closing()
        return " ".join(words)


def generate_corpus(seed: int = SEED, target_chars: int = TARGET_CHARS) -> str:
    """Paragraphs, one per line, until the text holds at least ``target_chars`` characters."""
    rng = random.Random(seed)
    lines: list[str] = []
    size = 0
    while size < target_chars:
        line = _Paragraph(rng).write()
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines) + "\n"


def read_corpus(path: Path = CORPUS_FILE) -> str:
    """The shipped corpus text."""
    return path.read_text(encoding="ascii")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate (or check) the demo corpus.")
    parser.add_argument("--check", action="store_true", help="only compare with the shipped file")
    args = parser.parse_args(argv)
    text = generate_corpus()
    if args.check:
        same = CORPUS_FILE.exists() and read_corpus() == text
        print(f"{CORPUS_FILE}: {'up to date' if same else 'differs from the generator'}")
        return 0 if same else 1
    CORPUS_FILE.write_text(text, encoding="ascii", newline="\n")
    print(f"wrote {CORPUS_FILE} ({len(text)} characters, {text.count(chr(10))} paragraphs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
