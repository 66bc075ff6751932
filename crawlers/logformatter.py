"""Scrapy log lines that name an item without printing it.

Scrapy's default formatter writes the whole item into "Scraped from" (DEBUG), "Dropped:" (WARNING)
and "Error processing" lines. Items are raw posts that no pipeline has masked yet, and log files
travel further than the state database (terminals, journald, support tickets), so a log line says
which post it was — source and native id — and never what it said.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.exceptions import CannotResolveHostError
from scrapy.logformatter import LogFormatter, LogFormatterResult
from twisted.internet import error as net
from twisted.web._newclient import ResponseNeverReceived

from crisiswatch.pii import mask


def describe(item: Any) -> str:
    """`weibo_search 5123400000000099` for a Mention or a dict item; never its text."""
    get = item.get if isinstance(item, dict) else (lambda key, default=None: getattr(item, key, default))
    try:
        source, native = get("source", None), get("native_id", None)
    except Exception:  # an item type we do not know: say so rather than repr() it
        source, native = None, None
    if source is None and native is None:
        return f"<{type(item).__name__}>"
    return f"{source or '?'} {native or '?'}"


class MaskedItemLogFormatter(LogFormatter):
    def scraped(self, item: Any, response: Any, spider: Any) -> LogFormatterResult:
        result = super().scraped(item, response, spider)
        result["args"]["item"] = describe(item)
        return result

    def dropped(self, item: Any, exception: BaseException, response: Any, spider: Any) -> LogFormatterResult:
        result = super().dropped(item, exception, response, spider)
        result["args"].update(item=describe(item), exception=mask(str(exception)).text)
        return result

    def item_error(self, item: Any, exception: BaseException, response: Any, spider: Any) -> LogFormatterResult:
        result = super().item_error(item, exception, response, spider)
        result["args"]["item"] = describe(item)
        return result


# the network said no: the page is lost and counted (`crisiswatch/pages_lost`, the crawl's FAILED line), and a
# traceback through Twisted's internals tells an operator nothing the one line does not
NETWORK_ERRORS = (CannotResolveHostError, net.DNSLookupError, net.ConnectError, net.TimeoutError,
                  net.ConnectionLost, ResponseNeverReceived)


class NetworkErrorsInOneLine(logging.Filter):
    """Scrapy's "Error downloading <url>" for a network failure, as one line with its reason."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, NETWORK_ERRORS) and str(record.msg).startswith("Error downloading"):
            record.msg, record.exc_info, record.exc_text = f"{record.msg}: {exc}", None, None
        return True


def quiet_network_tracebacks() -> None:
    scraper = logging.getLogger("scrapy.core.scraper")
    if not any(isinstance(f, NetworkErrorsInOneLine) for f in scraper.filters):
        scraper.addFilter(NetworkErrorsInOneLine())
