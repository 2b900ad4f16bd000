"""The study settings a user may change: their keys, types, bounds and help, in one place.

``quizcnn settings KEY VALUE`` parses the text here, and the store keeps the
value; everything that reads a setting reads ``StudySettings``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quizcnn.store import Store, StudySettings


class SettingError(ValueError):
    """An unknown setting, or a value it cannot take; the message says which and why."""


@dataclass(frozen=True)
class Setting:
    key: str
    type: type  # int or float
    low: float
    high: float
    help: str
    choices: tuple[str, ...] = ()  # a setting of words, not numbers

    def parse(self, text: str) -> Any:
        if self.choices:
            value = text.strip().lower()
            if value not in self.choices:
                raise SettingError(
                    f"{self.key} must be one of {', '.join(self.choices)}, not {text!r}"
                )
            return value
        try:
            value = self.type(text)
        except ValueError:
            raise SettingError(f"{self.key} must be a number, not {text!r}") from None
        if not self.low <= value <= self.high:
            raise SettingError(
                f"{self.key} must be between {self.low} and {self.high} ({self.help})"
            )
        return value


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting(
            "desired_retention",
            float,
            0.7,
            0.99,
            "target recall probability at review time (0.70-0.99)",
        ),
        Setting("rollover_hour", int, 0, 23, "local hour the study day starts (0-23)"),
        Setting("new_per_day", int, 0, 100_000, "new cards per day"),
        Setting("reviews_per_day", int, 0, 100_000, "reviews + new cards per day"),
        Setting(
            "plan_recall_target",
            float,
            0.8,
            0.99,
            "an interview plan's predicted recall on the day, per card (0.80-0.99)",
        ),
        Setting(
            "plan_new_ceiling",
            int,
            1,
            1000,
            "most new cards a day an interview plan may ask for (1-1000)",
        ),
        Setting(
            "lang",
            str,
            0,
            0,
            "the cards' language: en, zh, or zh+en (Chinese with the English under it)",
            ("en", "zh", "zh+en"),
        ),
    )
}


def setting(key: str) -> Setting:
    try:
        return SETTINGS[key]
    except KeyError:
        raise SettingError(f"unknown setting {key!r}: use one of {', '.join(SETTINGS)}") from None


def change(store: Store, key: str, text: str | None) -> StudySettings:
    """Parse and store one setting; the settings as they now are."""
    spec = setting(key)
    if text is None:
        raise SettingError(f"give a value for {key} ({spec.help})")
    store.save_settings(**{key: spec.parse(text)})
    return store.settings()


def shown(current: StudySettings) -> dict[str, Any]:
    """The settings as `quizcnn settings` lists them."""
    values: dict[str, Any] = {key: getattr(current, key) for key in SETTINGS}
    values["fsrs parameters"] = (
        f"fitted {current.optimized_at}" if current.parameters else "FSRS-6 defaults"
    )
    return values
