"""Seed files: owners' RPPS and delegations are checked before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from mss.core.errors import DataError
from mss.directory.seed import load_seed
from mss.testing.fixtures import DEMO


def seed_with(tmp_path: Path, **box: object) -> Path:
    data = yaml.safe_load((DEMO / "seed.yaml").read_text(encoding="utf-8"))
    data["establishments"][0]["mailboxes"].append(box)
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_the_demo_seed_names_owners_and_delegates() -> None:
    data = load_seed(DEMO / "seed.yaml")
    boxes = {b["address"]: b for e in data["establishments"] for b in e["mailboxes"]}
    assert boxes["jean.martin@chu-demo.mssante.fr"]["rpps"] == "10001234567"
    assert boxes["cardiologie@chu-demo.mssante.fr"]["delegates"] == ["jean.martin@chu-demo.mssante.fr"]


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ({"address": "x@chu-demo.mssante.fr", "type": "PER", "rpps": "1234"}, "rpps is 11 digits"),
        (
            {"address": "x@chu-demo.mssante.fr", "type": "ORG", "rpps": "10001234567"},
            "personal mailboxes only",
        ),
        (
            {
                "address": "x@chu-demo.mssante.fr",
                "type": "PER",
                "delegates": ["jean.martin@chu-demo.mssante.fr"],
            },
            "only organisational mailboxes have delegates",
        ),
        (
            {
                "address": "x@chu-demo.mssante.fr",
                "type": "ORG",
                "delegates": ["cardiologie@chu-demo.mssante.fr"],
            },
            "is not a personal mailbox",
        ),
        (
            {"address": "x@chu-demo.mssante.fr", "type": "ORG", "delegates": ["inconnu@chu-demo.mssante.fr"]},
            "is not a personal mailbox",
        ),
    ],
)
def test_bad_owners_and_delegations_are_refused_with_the_mailbox_named(
    tmp_path: Path, box: dict[str, object], message: str
) -> None:
    with pytest.raises(DataError, match=message) as refused:
        load_seed(seed_with(tmp_path, **box))
    assert "x@chu-demo.mssante.fr" in str(refused.value)
