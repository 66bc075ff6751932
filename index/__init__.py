"""Mention stores, selected by URL scheme like Scrapy's FEED_STORAGES."""

from __future__ import annotations

import importlib

from crisiswatch.errors import CrisiswatchError
from crisiswatch.indexurl import IndexURLError, parse_index_url
from index.base import Backend, BackendUnavailable, Bucket, IndexResult, MentionFilter

BACKEND_SCHEMES = {
    "sqlite": "index.sqlite:SQLiteBackend",
    "elasticsearch": "index.elastic:ElasticsearchBackend",
    "opensearch": "index.elastic:OpenSearchBackend",
    "https": "index.elastic:ElasticsearchBackend",
    "http": "index.elastic:ElasticsearchBackend",
}


def open_backend(url: str) -> Backend:
    try:
        scheme = parse_index_url(url).scheme
    except IndexURLError as exc:
        raise CrisiswatchError(str(exc)) from None
    module_name, class_name = BACKEND_SCHEMES[scheme].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise CrisiswatchError(f"index backend for {scheme}:// is not available ({exc})") from None
    return getattr(module, class_name).from_url(url)


__all__ = ["Backend", "BackendUnavailable", "Bucket", "IndexResult", "MentionFilter", "open_backend"]
