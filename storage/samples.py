"""The sample datasets shipped in data/samples, added to a workspace in one click."""
from __future__ import annotations

import json
from pathlib import Path

from settings import PROJECT_ROOT
from storage.errors import NotFound
from storage.principal import Principal

SAMPLES_DIR = PROJECT_ROOT / "data" / "samples"


def list_samples() -> list[dict]:
    manifest = SAMPLES_DIR / "samples.json"
    if not manifest.exists():
        return []
    samples = json.loads(manifest.read_text(encoding="utf-8"))
    return [s for s in samples if (SAMPLES_DIR / s["file"]).exists()]


def add_sample(datasets_service, principal: Principal, workspace_id, key: str, on_progress=None):
    sample = next((s for s in list_samples() if s["key"] == key), None)
    if sample is None:
        raise NotFound(f"There is no sample dataset {key!r}")
    path = Path(SAMPLES_DIR / sample["file"])
    return datasets_service.create_from_file(
        principal, workspace_id, path, sample["file"], name=sample["name"],
        description=f"{sample['description']} Source: {sample['source']}.", on_progress=on_progress,
    )
