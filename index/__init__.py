"""Mention stores, selected by URL scheme like Scrapy's FEED_STORAGES."""

from __future__ import annotations

import importlib

from index.base import Backend, BackendUnavailable, Bucket, IndexResult, MentionFilter

BACKEND_SCHEMES = {
    "sqlite": "index.sqlite:SQLiteBackend",
    "elasticsearch": "index.elastic:ElasticsearchBackend",
    "opensearch": "index.elastic:OpenSearchBackend",
    "https": "index.elastic:ElasticsearchBackend",
    "http": "index.elastic:ElasticsearchBackend",
}


def open_backend(url: str) -> Backend:
    from crisiswatch.errors import CrisiswatchError

    scheme = url.split("://", 1)[0] if "://" in url else ""
    target = BACKEND_SCHEMES.get(scheme)
    if target is None:
        known = ", ".join(f"{s}://" for s in BACKEND_SCHEMES)
        raise CrisiswatchError(f"unknown index URL {url!r}: use one of {known}")
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise CrisiswatchError(f"index backend for {scheme}:// is not available ({exc})") from None
    return getattr(module, class_name).from_url(url)


__all__ = ["Backend", "BackendUnavailable", "Bucket", "IndexResult", "MentionFilter", "open_backend"]
