"""A source that cannot be reached is said in one line per page, not in a traceback through Twisted."""

from __future__ import annotations

import logging
import sys

from twisted.internet.error import DNSLookupError

from crawlers.logformatter import NetworkErrorsInOneLine, quiet_network_tracebacks


def record(exc: BaseException) -> logging.LogRecord:
    try:
        raise exc
    except type(exc):
        info = sys.exc_info()
    return logging.LogRecord("scrapy.core.scraper", logging.ERROR, __file__, 1, "Error downloading %(request)s",
                             ({"request": "<GET https://ts.21cn.com/>"},), info)


def test_a_dns_failure_is_one_line_and_a_bug_keeps_its_traceback():
    dns = record(DNSLookupError("no results for hostname lookup: ts.21cn.com."))
    assert NetworkErrorsInOneLine().filter(dns) and dns.exc_info is None
    assert logging.Formatter().format(dns) == ("Error downloading <GET https://ts.21cn.com/>: DNS lookup failed: "
                                               "no results for hostname lookup: ts.21cn.com..")
    bug = record(KeyError("pager"))
    assert NetworkErrorsInOneLine().filter(bug) and bug.exc_info is not None  # not the network's doing: all of it
    quiet_network_tracebacks()
    quiet_network_tracebacks()  # each crawl of a process installs it: once is enough
    scraper = logging.getLogger("scrapy.core.scraper")
    assert sum(isinstance(f, NetworkErrorsInOneLine) for f in scraper.filters) == 1
