"""The ``tiers`` section: secrets by reference, clear errors naming file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchkeeper.config import ConfigError, load_config
from watchkeeper.config.secretstore import SecretStore

S3_SECRET = "swift-Secret-Key-99"
BASE = """\
sites:
  - id: main
    name: Main site
cameras: []
"""
TIERS = """\
tiers:
  enabled: true
  warm_after_s: 3600
  warm:
    bucket: wk-footage
    endpoint_url: http://127.0.0.1:8080
    access_key_id: ${secret:s3-key}
    secret_access_key: ${secret:s3-secret}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "watchkeeper.yaml"
    path.write_text(text)
    return path


def test_credentials_come_from_secret_references(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE + TIERS)
    SecretStore.open(tmp_path).with_value("s3-key", "wk:tester").with_value("s3-secret", S3_SECRET)
    config = load_config(path)
    warm = config.tiers.warm
    assert warm is not None
    assert warm.access_key_id.get_secret_value() == "wk:tester"
    assert warm.secret_access_key.get_secret_value() == S3_SECRET
    assert S3_SECRET not in repr(config) + config.model_dump_json()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("warm_after_s: 3600", "warm_after_s: -1"), ":7: tiers.warm_after_s"),
        (("    bucket: wk-footage", "    bucket: Not_A_Bucket"), ":9: tiers.warm.bucket"),
        (
            ("    endpoint_url: http://127.0.0.1:8080", "    endpoint_url: ftp://x"),
            ":10: tiers.warm.endpoint_url",
        ),
        (("  warm:\n", "  wurm:\n"), "tiers.wurm"),
    ],
)
def test_bad_values_name_line_and_key(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    path = _write(
        tmp_path,
        BASE + TIERS.replace(*change).replace("${secret:s3-key}", "k").replace("${secret:s3-secret}", "s"),
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert expected in str(caught.value)


def test_enabled_without_a_bucket_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE + "tiers:\n  enabled: true\n")
    with pytest.raises(ConfigError, match="needs a `warm` bucket"):
        load_config(path)
