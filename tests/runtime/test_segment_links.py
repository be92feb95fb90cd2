"""Signed segment-file links (``media.signing``) and the advertised URL of a worker's HTTP port."""

from __future__ import annotations

import pytest

from watchkeeper.cluster.factory import advertised_http_url
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.media.signing import MAX_TTL_S, SegmentSignatureError, SignedLink, sign, signature, verify

SECRET = "a-cluster-media-secret"
PATH = "cam1/protected/2026/12/06/07/38.45.mp4"
NOW = 1_800_000_000.0
GOOD = sign(SECRET, PATH, NOW)


def test_a_signed_link_verifies_until_it_expires() -> None:
    link = sign(SECRET, PATH, NOW, ttl_s=60)
    verify(SECRET, link, NOW)
    verify(SECRET, link, NOW + 60)
    with pytest.raises(SegmentSignatureError, match="expired 1 s ago"):
        verify(SECRET, link, NOW + 61)
    assert link.target.startswith("/internal/segments/cam1/protected/2026/12/06/07/38.45.mp4?expires=")


@pytest.mark.parametrize(
    ("secret", "link", "message"),
    [
        (None, sign(SECRET, PATH, NOW), "cluster.media_secret is not set"),
        ("another-secret-entirely", sign(SECRET, PATH, NOW), "signature does not match"),
        (
            SECRET,
            SignedLink("cam1/other.mp4", GOOD.expires, GOOD.signature),  # a signature is for one path
            "signature",
        ),
        (
            SECRET,
            SignedLink(PATH, int(NOW) + MAX_TTL_S + 10, signature(SECRET, PATH, int(NOW) + MAX_TTL_S + 10)),
            "more than 600 s ahead",
        ),
    ],
)
def test_links_not_signed_for_this_path_now_are_refused(
    secret: str | None, link: SignedLink, message: str
) -> None:
    with pytest.raises(SegmentSignatureError, match=message):
        verify(secret, link, NOW)


def _config(**sections: object) -> WatchkeeperConfig:
    return WatchkeeperConfig.model_validate({"cameras": [], **sections})


def test_advertised_url_is_the_configured_one_else_built_from_the_server_section() -> None:
    pinned = _config(cluster={"http_url": "https://w1.site-a.example:8443"})
    assert advertised_http_url(pinned, 8081) == "https://w1.site-a.example:8443"
    assert advertised_http_url(_config(server={"host": "10.1.0.5"}), 8081) == "http://10.1.0.5:8081"
    assert advertised_http_url(_config(server={"host": "::1"}), 9000) == "http://[::1]:9000"
    wildcard = advertised_http_url(_config(server={"host": "0.0.0.0"}), 8081)  # noqa: S104
    assert not wildcard.startswith("http://0.0.0.0")
