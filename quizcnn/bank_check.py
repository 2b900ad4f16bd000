"""Reading and validating topic files: YAML node trees -> cards, with every problem positioned.

Files are read with PyYAML's safe loader (the C one where available) as a node
tree, so every error can name its file, line and column. Validation collects
*every* problem rather than stopping at the first, because an author fixing a
bank wants the whole list at once. A new card kind adds its keys to
``bank.KIND_KEYS`` and one case to ``BankChecker.kind_fields``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from quizcnn.bibliography import Source, Work, locator_problem, parse_works
from quizcnn.cards import (
    CARD_KEYS,
    FORMAT_VERSION,
    KIND_KEYS,
    KINDS,
    MAX_POINTS,
    MIN_POINTS,
    REQUIRED_CARD_KEYS,
    SLUG_RE,
    TOPIC_KEYS,
    TOPIC_RE,
    BankIssue,
    Card,
    Kind,
    Point,
    Topic,
)
from quizcnn.i18n import Overlay, Translation, english_fields, overlay_files, source_hash
from quizcnn.paths import BIBLIOGRAPHY_FILE, topic_files
from quizcnn.suggest import did_you_mean

try:  # the C loader is several times faster; fall back where libyaml is missing
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

# YAML double-quoted escapes that turn a LaTeX command into a control character:
# "\frac" is a form feed then "rac", "\beta" a backspace, "\nabla" a newline.
_ESCAPE_NAMES = {
    "0": "a NUL byte",
    "a": "a bell",
    "b": "a backspace",
    "t": "a tab",
    "n": "a newline",
    "v": "a vertical tab",
    "f": "a form feed",
    "r": "a carriage return",
    "e": "an escape",
}
_LATEX_ESCAPE_RE = re.compile(r"\\([0abtnvfre])(?=[A-Za-z])")


class BankChecker:
    """Walks YAML node trees, building cards and collecting every issue."""

    def __init__(self, proofs: set[str], strict: bool, checkers: set[str] = frozenset()):
        from quizcnn.generators import GENERATORS

        self.proofs = proofs
        self.checkers = set(checkers)
        self.generators = set(GENERATORS)
        self.strict = strict
        self.issues: list[BankIssue] = []
        self.warnings: list[BankIssue] = []
        self.topics: list[Topic] = []
        self.works: dict[str, Work] = {}
        self.seen_ids: dict[str, tuple[Path, yaml.Node]] = {}
        self.path = Path(".")
        self.text = ""
        # where each topic's name and aliases were written, for cross-topic errors
        self._alias_nodes: dict[str, tuple[Path, yaml.Node | None, yaml.Node | None]] = {}

    # -- reporting --------------------------------------------------------
    def error(self, node: yaml.Node | None, card_id: str, message: str, index: int | None = None):
        self.issues.append(self._issue(node, card_id, message, index))

    def warn(self, node: yaml.Node | None, card_id: str, message: str):
        self.warnings.append(self._issue(node, card_id, message, None))

    def _issue(self, node, card_id, message, index) -> BankIssue:
        if index is not None:  # an exact character inside a scalar
            line = self.text.count("\n", 0, index) + 1
            column = index - (self.text.rfind("\n", 0, index) + 1) + 1
        elif node is not None:
            line, column = node.start_mark.line + 1, node.start_mark.column + 1
        else:
            line, column = 1, 1
        return BankIssue(self.path, line, column, card_id or "-", message)

    # -- files ------------------------------------------------------------
    def load_dir(self, directory: Path) -> None:
        if not directory.is_dir():
            self.path = directory
            self.error(None, "-", "bank folder does not exist or is not a folder")
            return
        files = topic_files(directory)
        if not files:
            self.path = directory
            self.error(None, "-", "bank folder holds no .yaml topic files")
        for path in files:
            self.load_file(path)

    def load_file(self, path: Path) -> None:
        root = self.read_tree(path)
        if root is not False:
            self.check_topic(path, root)

    def load_bibliography(self, directory: Path) -> None:
        path = directory / BIBLIOGRAPHY_FILE
        if not path.is_file():
            return
        root = self.read_tree(path)
        if root is False:
            return
        works, problems = parse_works(root, lambda n: self.loader.construct_object(n, deep=True))
        for node, key, message in problems:
            self.error(node, key, message)
        for key, work in works.items():
            if key in self.works:
                self.error(
                    None, key, f"bibliography key {key!r} is also registered by another bank"
                )
            else:
                self.works[key] = work

    def read_tree(self, path: Path) -> yaml.Node | None | bool:
        """The file's YAML node tree; False (with the issue recorded) when it cannot be read."""
        self.path = path
        try:
            self.text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.error(None, "-", f"cannot read the file: {exc}")
            return False
        loader = _Loader(self.text)
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            self._yaml_syntax_error(exc)
            return False
        except yaml.YAMLError as exc:
            self.error(None, "-", f"YAML error: {exc}")
            return False
        finally:
            loader.dispose()
        self.loader = loader
        return root

    def _yaml_syntax_error(self, exc: yaml.MarkedYAMLError) -> None:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        message = f"YAML syntax error: {problem}"
        if exc.context:
            message += f" ({exc.context})"
        if "escape character" in problem:
            message += (
                "; write LaTeX in single quotes or a block scalar (| or >), not in double quotes"
            )
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        self.issues.append(BankIssue(self.path, line, column, "-", message))

    # -- topic level ------------------------------------------------------
    def check_topic(self, path: Path, root: yaml.Node | None) -> None:
        if not isinstance(root, yaml.MappingNode):
            self.error(
                root, "-", "a topic file must be a mapping with format_version, topic, title, cards"
            )
            return
        fields = self.mapping(root, "-", TOPIC_KEYS, "topic file")
        version = fields.get("format_version")
        if version is None:
            self.error(root, "-", "missing required key 'format_version' (use 1)")
        elif self.scalar(version, "-", "format_version", int) != FORMAT_VERSION:
            self.error(version, "-", f"format_version must be {FORMAT_VERSION}")
        name = self.required_str(root, fields, "topic", "-")
        if name is not None and not TOPIC_RE.match(name):
            self.error(fields["topic"], "-", f"topic {name!r} must be a lowercase slug")
        elif name is not None and name != path.stem:
            self.error(
                fields["topic"], "-", f"topic {name!r} must match the file name {path.stem!r}"
            )
        title = self.required_str(root, fields, "title", "-")
        aliases = self.slug_list(fields.get("aliases"), "-", "aliases", SLUG_RE)
        cards_node = fields.get("cards")
        if cards_node is None:
            self.error(root, "-", "missing required key 'cards'")
        elif not isinstance(cards_node, yaml.SequenceNode) or not cards_node.value:
            self.error(cards_node, "-", "cards must be a non-empty list of cards")
        cards = []
        if isinstance(cards_node, yaml.SequenceNode):
            for card_node in cards_node.value:
                card = self.check_card(card_node, name or path.stem)
                if card is not None:
                    cards.append(card)
        if name and title is not None:
            self.topics.append(Topic(name, title, tuple(aliases), tuple(cards), path))
            self._alias_nodes[name] = (path, fields.get("aliases"), fields.get("topic"))

    def check_across_topics(self) -> None:
        """Topic names and aliases must each mean one topic; strict: each topic has a proof."""
        self.check_names_across_topics()
        self.check_follow_ups()
        if self.strict:
            for topic in self.topics:
                self.path = topic.path
                node = self._alias_nodes[topic.name][2]
                if not any(card.proof for card in topic.cards):
                    self.error(node, "-", f"topic {topic.name!r} has no card with a proof")
                # a topic of one card has no chain to open
                if len(topic.cards) > 1 and not any(card.follow_ups for card in topic.cards):
                    self.error(
                        node,
                        "-",
                        f"topic {topic.name!r} has no opener: give a broad card follow_ups, "
                        "the cards an interviewer asks next",
                    )

    def check_follow_ups(self) -> None:
        """Every follow-up names a card; chains never loop back (an interview must end)."""
        cards = {c.id: c for t in self.topics for c in t.cards}
        for card in cards.values():
            for follow in card.follow_ups:
                if follow not in cards:
                    self.path = card.path
                    hint = did_you_mean(follow, cards, n=1, quote=True)
                    self.issues.append(
                        BankIssue(
                            card.path,
                            card.line,
                            1,
                            card.id,
                            f"follow-up {follow!r} is no card of the bank{hint}",
                        )
                    )
        for cycle in _cycles(
            {i: [f for f in c.follow_ups if f in cards] for i, c in cards.items()}
        ):
            first = cards[cycle[0]]
            self.issues.append(
                BankIssue(
                    first.path,
                    first.line,
                    1,
                    first.id,
                    f"follow-ups form a cycle: {' -> '.join(cycle)}",
                )
            )

    def check_names_across_topics(self) -> None:
        owners: dict[str, str] = {}
        topic_paths: dict[str, Path] = {}
        for topic in self.topics:
            path, aliases_node, topic_node = self._alias_nodes[topic.name]
            self.path = path
            if topic.name in topic_paths:
                self.error(
                    topic_node,
                    "-",
                    f"topic {topic.name!r} is also defined in {topic_paths[topic.name]}",
                )
                continue
            topic_paths[topic.name] = path
            owners.setdefault(topic.name, topic.name)
        for topic in self.topics:
            path, aliases_node, _ = self._alias_nodes[topic.name]
            self.path = path
            nodes = aliases_node.value if isinstance(aliases_node, yaml.SequenceNode) else []
            node_of = {n.value: n for n in nodes if isinstance(n, yaml.ScalarNode)}
            for alias in topic.aliases:
                node = node_of.get(alias)
                owner = owners.get(alias)
                if owner is not None and owner != topic.name:
                    what = "is the name of" if alias in topic_paths else "is also claimed by"
                    self.error(node, "-", f"alias {alias!r} {what} topic {owner!r}")
                else:
                    owners[alias] = topic.name

    # -- card level -------------------------------------------------------
    def check_card(self, node: yaml.Node, topic: str) -> Card | None:
        if not isinstance(node, yaml.MappingNode):
            self.error(node, "-", "a card must be a mapping of keys such as id, kind, question")
            return None
        id_node = self._value_of(node, "id")
        card_id = "-"
        if isinstance(id_node, yaml.ScalarNode) and isinstance(id_node.value, str):
            card_id = _shown_id(id_node.value)
        fields = self.mapping(node, card_id, CARD_KEYS, "card")
        values: dict[str, Any] = {}
        for key in REQUIRED_CARD_KEYS:
            values[key] = self.required_str(node, fields, key, card_id)
        if values["id"] is not None:
            self.check_id(fields["id"], values["id"])
        kind = Kind(values["kind"]) if values["kind"] in KINDS else None
        if values["kind"] is not None and kind is None:
            known = ", ".join(KINDS)
            self.error(fields["kind"], card_id, f"kind {values['kind']!r} is not one of {known}")
        values["kind"] = kind
        values.update(self.kind_fields(node, fields, kind, card_id))
        if self.strict and kind is Kind.RECALL and not values["points"] and "points" not in fields:
            self.error(
                node,
                card_id,
                "a recall card needs points: the 2 to 5 key points a complete answer contains",
            )
        values["proof"] = self.optional_str(fields.get("proof"), card_id, "proof")
        if values["proof"] is not None and values["proof"] not in self.proofs:
            self.error(
                fields["proof"],
                card_id,
                f"proof {values['proof']!r} names no file demos/{values['proof']}.py",
            )
        sources = self.sources(fields.get("sources"), card_id)
        if not sources:
            (self.error if self.strict else self.warn)(
                fields.get("sources", node),
                card_id,
                "no sources: cite a paper section or an official docs page",
            )
        tags = self.slug_list(fields.get("tags"), card_id, "tags", SLUG_RE)
        values["follow_ups"] = tuple(
            self.slug_list(fields.get("follow_ups"), card_id, "follow_ups", SLUG_RE)
        )
        if any(values[k] is None for k in REQUIRED_CARD_KEYS) or kind is None:
            return None
        return Card(
            topic=topic,
            sources=tuple(sources),
            tags=tuple(tags),
            path=self.path,
            line=node.start_mark.line + 1,
            **values,
        )

    def check_id(self, node: yaml.Node, card_id: str) -> None:
        if not SLUG_RE.match(card_id):
            self.error(node, card_id, "id must be a lowercase slug: letters, digits and '-'")
        if card_id in self.seen_ids:
            other_path, other = self.seen_ids[card_id]
            where = f"{other_path}:{other.start_mark.line + 1}:{other.start_mark.column + 1}"
            self.error(node, card_id, f"duplicate id {card_id!r}: first defined at {where}")
        else:
            self.seen_ids[card_id] = (self.path, node)

    def kind_fields(self, node, fields, kind: Kind | None, card_id) -> dict[str, Any]:
        """The keys of the card's own kind (KIND_KEYS); another kind's key is an error."""
        out: dict[str, Any] = {
            "choices": (),
            "correct": None,
            "value": None,
            "tolerance": None,
            "unit": None,
            "generator": None,
            "task": None,
            "starter": None,
            "checker": None,
            "solution": None,
            "points": (),
        }
        for owner, keys in KIND_KEYS.items():
            for key in keys:
                if key in fields and kind is not None and owner is not kind:
                    self.error(
                        fields[key], card_id, f"{key!r} is only for {owner} cards, not {kind} cards"
                    )
        match kind:
            case Kind.CHOICE:
                out.update(self.choice_fields(node, fields, card_id))
            case Kind.NUMERIC:
                out.update(self.numeric_fields(node, fields, card_id))
            case Kind.RECALL:
                out["points"] = tuple(self.points(fields.get("points"), card_id))
            case Kind.IMPLEMENT:
                out.update(self.implement_fields(node, fields, card_id))
        return out

    def implement_fields(self, node, fields, card_id) -> dict[str, Any]:
        """task, starter, checker and solution; the checker exists, the code parses."""
        out = {
            key: self.required_str(node, fields, key, card_id) for key in KIND_KEYS[Kind.IMPLEMENT]
        }
        if out["checker"] is not None and out["checker"] not in self.checkers:
            hint = did_you_mean(out["checker"], self.checkers, n=1, quote=True)
            self.error(
                fields["checker"],
                card_id,
                f"checker {out['checker']!r} names no file demos/checkers/{out['checker']}.py{hint}",
            )
        for key in ("starter", "solution"):
            if out[key] is not None:
                self.python_parses(fields[key], card_id, key, out[key])
        return out

    def python_parses(self, node: yaml.ScalarNode, card_id: str, key: str, code: str) -> None:
        """A starter or solution must be valid Python (positioned at its bad line)."""
        import ast

        try:
            ast.parse(code)
        except SyntaxError as exc:
            # a block scalar's text starts on the line after its indicator
            offset = node.start_mark.line + (1 if node.style in ("|", ">") else 0)
            line = offset + (exc.lineno or 1)
            self.issues.append(
                BankIssue(self.path, line, 1, card_id, f"{key} is not valid Python: {exc.msg}")
            )

    def choice_fields(self, node, fields, card_id) -> dict[str, Any]:
        out: dict[str, Any] = {}
        choices = self.str_list(fields.get("choices"), card_id, "choices")
        if "choices" not in fields:
            self.error(
                node,
                card_id,
                "missing required key 'choices' (a choice card needs two or more)",
            )
        elif len(choices) < 2:
            self.error(fields["choices"], card_id, "choices must list at least two options")
        elif len(set(choices)) != len(choices):
            self.error(fields["choices"], card_id, "choices must be distinct")
        correct = self.required_str(node, fields, "correct", card_id)
        if correct is not None and choices and correct not in choices:
            self.error(fields["correct"], card_id, f"correct {correct!r} is not among the choices")
        out.update(choices=tuple(choices), correct=correct)
        return out

    def numeric_fields(self, node, fields, card_id) -> dict[str, Any]:
        out: dict[str, Any] = {"value": None, "tolerance": None}
        out["unit"] = self.optional_str(fields.get("unit"), card_id, "unit")
        out["generator"] = self.optional_str(fields.get("generator"), card_id, "generator")
        if out["generator"] is not None:
            if out["generator"] not in self.generators:
                known = ", ".join(sorted(self.generators))
                self.error(
                    fields["generator"],
                    card_id,
                    f"unknown generator {out['generator']!r}: use one of {known}",
                )
            for key in ("value", "tolerance"):
                if key in fields:
                    self.error(
                        fields[key], card_id, f"{key!r} is drawn by the generator; remove it"
                    )
        else:
            for key in ("value", "tolerance"):
                if key not in fields:
                    self.error(
                        node,
                        card_id,
                        f"missing required key {key!r} (a numeric card needs value and tolerance, or a generator)",
                    )
                else:
                    out[key] = self.scalar(fields[key], card_id, key, float)
            if out["tolerance"] is not None and out["tolerance"] < 0:
                self.error(fields["tolerance"], card_id, "tolerance must be zero or positive")
        return out

    # -- typed values -----------------------------------------------------
    def mapping(
        self, node: yaml.MappingNode, card_id: str, allowed: set[str], what: str
    ) -> dict[str, yaml.Node]:
        """Keys of a mapping node; unknown and duplicate keys are errors."""
        fields: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key not in allowed:
                hint = did_you_mean(str(key), sorted(allowed), n=1, quote=True)
                hint = hint or f"; allowed: {', '.join(sorted(allowed))}"
                self.error(key_node, card_id, f"unknown key {key!r} in {what}{hint}")
            elif key in fields:
                self.error(key_node, card_id, f"key {key!r} appears twice in this {what}")
            else:
                fields[key] = value_node
        return fields

    @staticmethod
    def _value_of(node: yaml.MappingNode, key: str) -> yaml.Node | None:
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return value_node
        return None

    def scalar(
        self, node: yaml.Node, card_id: str, key: str, kind: type, numbers_as_text=False
    ) -> Any:
        """A scalar of the expected Python type (int, float or str), else an error."""
        names = {int: "an integer", float: "a number", str: "a string"}
        if not isinstance(node, yaml.ScalarNode):
            self.error(node, card_id, f"{key} must be {names[kind]}, not a {_node_kind(node)}")
            return None
        value = self.loader.construct_object(node, deep=True)
        if numbers_as_text and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = node.value  # a choice such as 128 reads as the text the author wrote
        ok = isinstance(value, kind) or (kind is float and isinstance(value, int))
        if isinstance(value, bool) or not ok:
            self.error(node, card_id, f"{key} must be {names[kind]}, not {_describe(value)}")
            return None
        if kind is str:
            return self.clean_text(node, card_id, key, value)
        return float(value) if kind is float else value

    def clean_text(self, node: yaml.ScalarNode, card_id: str, key: str, value: str) -> str | None:
        if not value.strip():
            self.error(node, card_id, f"{key} is empty")
            return None
        if node.style == '"':
            raw = self.text[node.start_mark.index : node.end_mark.index]
            for match in _LATEX_ESCAPE_RE.finditer(raw):
                escape = match.group(1)
                self.error(
                    None,
                    card_id,
                    f'"\\{escape}" in a double-quoted string became {_ESCAPE_NAMES[escape]}; '
                    "write LaTeX in single quotes or a block scalar (| or >)",
                    index=node.start_mark.index + match.start(),
                )
        return value

    def required_str(self, parent: yaml.Node, fields: dict, key: str, card_id: str) -> str | None:
        if key not in fields:
            self.error(parent, card_id, f"missing required key {key!r}")
            return None
        return self.scalar(fields[key], card_id, key, str, numbers_as_text=key == "correct")

    def optional_str(self, node: yaml.Node | None, card_id: str, key: str) -> str | None:
        return None if node is None else self.scalar(node, card_id, key, str)

    def str_list(self, node: yaml.Node | None, card_id: str, key: str) -> list[str]:
        return [item for item, _ in self._str_items(node, card_id, key)]

    def _str_items(self, node, card_id, key) -> list[tuple[str, yaml.Node]]:
        if node is None:
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, card_id, f"{key} must be a list of strings, not a {_node_kind(node)}")
            return []
        items = []
        for item_node in node.value:
            item = self.scalar(
                item_node, card_id, f"each item of {key}", str, numbers_as_text=key == "choices"
            )
            if item is not None:
                items.append((item, item_node))
        return items

    def points(self, node: yaml.Node | None, card_id: str) -> list[Point]:
        """A recall card's key points: each a string or {text: ..., terms: [...]}."""
        if node is None:
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, card_id, f"points must be a list, not a {_node_kind(node)}")
            return []
        found = []
        for item in node.value:
            if isinstance(item, yaml.MappingNode):
                fields = self.mapping(item, card_id, {"text", "terms"}, "point")
                text = self.required_str(item, fields, "text", card_id)
                terms = self.str_list(fields.get("terms"), card_id, "terms")
            else:
                text, terms = self.scalar(item, card_id, "each item of points", str), []
            if text is not None:
                found.append(Point(text.strip(), tuple(t.strip() for t in terms)))
        if not MIN_POINTS <= len(node.value) <= MAX_POINTS:
            self.error(
                node,
                card_id,
                f"a card has {MIN_POINTS} to {MAX_POINTS} points, not {len(node.value)}",
            )
        return found

    def sources(self, node: yaml.Node | None, card_id: str) -> list[Source]:
        """Each source: plain text, or {ref: KEY, at: LOCATOR} naming a bibliography work."""
        if node is None:
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.error(
                node, card_id, f"sources must be a list of strings, not a {_node_kind(node)}"
            )
            return []
        found = []
        for item in node.value:
            source = (
                self.citation(item, card_id)
                if isinstance(item, yaml.MappingNode)
                else self._plain_source(item, card_id)
            )
            if source is not None:
                found.append(source)
        return found

    def _plain_source(self, node: yaml.Node, card_id: str) -> Source | None:
        text = self.scalar(node, card_id, "each item of sources", str)
        if text is None:
            return None
        if self.strict:
            self.error(
                node,
                card_id,
                "source is not registered: cite {ref: KEY, at: LOCATOR} with a key of bibliography.yaml",
            )
        return Source.plain(text)

    def citation(self, node: yaml.MappingNode, card_id: str) -> Source | None:
        fields = self.mapping(node, card_id, {"ref", "at"}, "source")
        if "ref" not in fields:
            self.error(node, card_id, "a source mapping needs 'ref': a key of bibliography.yaml")
            return None
        key = self.scalar(fields["ref"], card_id, "ref", str)
        locator = self.optional_str(fields.get("at"), card_id, "at") or ""
        if key is None:
            return None
        work = self.works.get(key)
        if work is None:
            hint = did_you_mean(key, self.works, n=1, quote=True)
            self.error(fields["ref"], card_id, f"unknown bibliography key {key!r}{hint}")
            return None
        problem = locator_problem(work, locator)
        if problem:
            self.error(fields.get("at", node), card_id, problem)
            return None
        return work.cite(locator)

    def slug_list(self, node, card_id, key, pattern) -> list[str]:
        good = []
        for item, item_node in self._str_items(node, card_id, key):
            if not pattern.match(item):
                self.error(
                    item_node,
                    card_id,
                    f"{key} item {item!r} must be a lowercase slug (letters, digits, '-')",
                )
            else:
                good.append(item)
        return good


def _shown_id(value: str) -> str:
    """A card id as issues name it: one token, and short (an id of a megabyte or with
    spaces is itself the error, reported at its position)."""
    token = "".join(value.split())
    if not token:
        return "-"
    return token if len(token) <= 60 else token[:57] + "..."


def _node_kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "mapping"
    if isinstance(node, yaml.SequenceNode):
        return "list"
    return "scalar"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    return f"{type(value).__name__} {value!r}"[:60]


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Each follow-up cycle once, as the path that closes it (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                found.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node)
    return found


class OverlayChecker(BankChecker):
    """Reads a language's overlays against a loaded bank: every problem positioned."""

    def __init__(self, bank, lang: str, strict: bool):
        super().__init__(set(), strict)
        self.bank = bank
        self.lang = lang
        self.overlays: dict[str, Overlay] = {}

    def problem(self, node, card_id: str, message: str) -> None:
        """Stale, missing or mismatched translations: errors with --strict, else warnings."""
        (self.error if self.strict else self.warn)(node, card_id, message)

    def load_language(self, directory: Path) -> None:
        folder = directory / self.lang
        if not folder.is_dir():
            return
        for path in overlay_files(folder):
            root = self.read_tree(path)
            if root is not False:
                self.check_overlay(path, root)

    def check_overlay(self, path: Path, root) -> None:
        if not isinstance(root, yaml.MappingNode):
            self.error(root, "-", "an overlay must be a mapping with topic and cards")
            return
        keys = {"format_version", "lang", "topic", "title", "aliases", "cards"}
        fields = self.mapping(root, "-", keys, "overlay")
        name = self.required_str(root, fields, "topic", "-")
        topic = self.bank.topics.get(name or "")
        if name is not None and topic is None:
            self.error(fields["topic"], "-", f"overlay names no topic of the bank: {name!r}")
            return
        lang = self.optional_str(fields.get("lang"), "-", "lang")
        if lang is not None and lang != self.lang:
            self.error(fields["lang"], "-", f"lang {lang!r} in the {self.lang}/ folder")
        if topic is None:
            return
        title = self.optional_str(fields.get("title"), "-", "title")
        aliases = [a for a, _ in self._str_items(fields.get("aliases"), "-", "aliases")]
        translations = self.translations(fields.get("cards"), topic)
        self.overlays[topic.name] = Overlay(
            self.lang, topic.name, title, tuple(aliases), translations, path
        )
        for card in topic.cards:
            if card.id not in translations:
                self.problem(fields.get("cards", root), card.id, f"no {self.lang} translation")

    def translations(self, node, topic) -> dict[str, Translation]:
        found: dict[str, Translation] = {}
        if not isinstance(node, yaml.MappingNode):
            self.error(node, "-", "cards must map each card id to its translation")
            return found
        ids = {c.id: c for c in topic.cards}
        for key_node, value in node.value:
            card_id = key_node.value if isinstance(key_node, yaml.ScalarNode) else "-"
            card = ids.get(card_id)
            if card is None:
                hint = did_you_mean(str(card_id), ids, n=1, quote=True)
                self.error(
                    key_node, str(card_id), f"no card {card_id!r} in topic {topic.name!r}{hint}"
                )
                continue
            translation = self.translation(card, value)
            if translation is not None:
                found[card.id] = translation
        return found

    def translation(self, card: Card, node) -> Translation | None:
        if not isinstance(node, yaml.MappingNode):
            self.error(node, card.id, "a translation must be a mapping of fields")
            return None
        english = english_fields(card)
        fields = self.mapping(
            node, card.id, {"source", *english}, f"{card.kind} card's translation"
        )
        source = self.required_str(node, fields, "source", card.id) or ""
        if source and source != source_hash(card):
            self.problem(
                fields["source"],
                card.id,
                f"stale: the English changed since this translation (made from {source}, "
                f"now {source_hash(card)}); update it",
            )
        text = {
            k: self.optional_str(fields.get(k), card.id, k)
            for k in ("question", "answer", "explanation", "task")
        }
        for key in english:
            if key not in fields:
                self.problem(node, card.id, f"{key} is not translated")
        choices = tuple(self.str_list(fields.get("choices"), card.id, "choices"))
        if "choices" in fields and len(choices) != len(card.choices):
            self.error(
                fields["choices"],
                card.id,
                f"{len(choices)} translated choices, the English has {len(card.choices)}",
            )
        points = ()
        if "points" in fields:
            points = tuple(self.points(fields["points"], card.id))
            if len(points) != len(card.points):
                self.error(
                    fields["points"],
                    card.id,
                    f"{len(points)} translated points, the English has {len(card.points)}",
                )
        return Translation(
            card.id,
            source,
            text["question"],
            text["answer"],
            text["explanation"],
            choices,
            points,
            text["task"],
            self.path,
            node.start_mark.line + 1,
        )
