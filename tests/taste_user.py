"""A scripted user with a hidden taste in charts, for the taste-model tests and bench/taste_sim.py.

Charts are drawn by the real chart sandbox in render mode, so every candidate is a valid, working
chart: the rule reward cannot tell two candidates apart, only the user's taste can. The hidden
taste (``utility``): horizontal bars over vertical bars over lines over pies, teal and gold over
grey and red. A *consistent* user keeps the version with the higher utility; a *random* user
flips a coin.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

KIND_TASTE = {"barh": 2.0, "bar": 0.6, "line": 0.0, "pie": -1.5}
COLOR_TASTE = {"teal": 1.0, "gold": 0.5, "purple": 0.0, "gray": -0.6, "tomato": -0.4}
TOPICS = [
    ("Coffee exports", ["Brazil", "Vietnam", "Colombia", "Ethiopia"]),
    ("City cycling", ["Amsterdam", "Utrecht", "Copenhagen", "Berlin"]),
    ("Solar capacity", ["China", "USA", "India", "Japan"]),
    ("Museum visits", ["Louvre", "Prado", "Uffizi", "Tate"]),
    ("Rainfall", ["Bergen", "Cardiff", "Dublin", "Brest"]),
    ("Library loans", ["Novels", "Comics", "Travel", "History"]),
]


@dataclass(frozen=True)
class ChartSpec:
    kind: str
    color: str
    labels: tuple[str, ...]
    values: tuple[int, ...]
    title: str

    def code(self) -> str:
        labels, values = list(self.labels), list(self.values)
        call = {
            "barh": f"plt.barh({labels!r}, {values!r}, color={self.color!r})",
            "bar": f"plt.bar({labels!r}, {values!r}, color={self.color!r})",
            "line": f"plt.plot({labels!r}, {values!r}, color={self.color!r}, marker='o')",
            "pie": f"plt.pie({values!r}, labels={labels!r}, colors=[{self.color!r}, 'white', 'lightgray', 'black'])",
        }[self.kind]
        return f"{call}\nplt.title({self.title!r})"

    def tag(self, description: str) -> str:
        return (
            "<imgen>"
            + repr({"source": "code", "description": description, "params": {"code": self.code()}})
            + ("</imgen>")
        )


def utility(spec: ChartSpec) -> float:
    return KIND_TASTE[spec.kind] + COLOR_TASTE[spec.color]


def random_spec(rng: random.Random, topic: int) -> ChartSpec:
    title, labels = TOPICS[topic % len(TOPICS)]
    values = tuple(rng.randint(5, 90) for _ in labels)
    return ChartSpec(rng.choice(list(KIND_TASTE)), rng.choice(list(COLOR_TASTE)), tuple(labels), values, title)


def alternative(rng: random.Random, spec: ChartSpec, topic: int) -> ChartSpec:
    """Another chart of the same data whose utility differs (so a consistent user has a choice)."""
    while True:
        other = random_spec(rng, topic)
        other = ChartSpec(other.kind, other.color, spec.labels, spec.values, spec.title)
        if abs(utility(other) - utility(spec)) >= 0.3:
            return other


def response(rng: random.Random, specs: list[ChartSpec], topic: int) -> str:
    """An LLM-I response: a title, and one paragraph and one chart per spec."""
    title, _ = TOPICS[topic % len(TOPICS)]
    parts = [f"# {title}\n\nA short look at {title.lower()} across four places.\n\n"]
    for i, spec in enumerate(specs):
        parts.append(f"Part {i + 1}: the figures, as reported this year.\n\n")
        parts.append(spec.tag(f"{title} by place, view {i + 1}") + "\n\n")
    parts.append("That is the picture for now.\n")
    return "".join(parts)


class ScriptedUser:
    """Chooses between the shown version and a new one: by the hidden taste, or at random."""

    def __init__(self, consistent: bool, seed: int = 0) -> None:
        self.consistent = consistent
        self.rng = random.Random(seed)

    def keeps_new(self, old: ChartSpec, new: ChartSpec) -> bool:
        if not self.consistent:
            return self.rng.random() < 0.5
        return utility(new) > utility(old)
