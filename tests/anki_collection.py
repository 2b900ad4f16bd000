"""A fresh Anki collection, and reading it back, with Anki's own library."""

from __future__ import annotations

from pathlib import Path

from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest


def new_collection(tmp_path: Path, name: str = "anki") -> Collection:
    folder = tmp_path / name
    folder.mkdir()
    return Collection(str(folder / "collection.anki2"))


def import_package(col: Collection, path: Path):
    """Anki's File > Import of an .apkg; the import log."""
    request = ImportAnkiPackageRequest(
        package_path=str(path), options=ImportAnkiPackageOptions(with_scheduling=False)
    )
    return col.import_anki_package(request).log


def notes_by_id(col: Collection) -> dict:
    """Every note, keyed by its quizcnn card id (the Id field)."""
    return {col.get_note(nid)["Id"]: col.get_note(nid) for nid in col.find_notes("")}
