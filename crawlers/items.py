"""Spiders yield plain dicts shaped like `Mention`; the validation pipeline turns them into one.

Keeping the item a dict (not a Scrapy Item subclass) lets the X collector and the replay
tests feed the same pipelines without Scrapy.
"""

from crisiswatch.mention import Author, Engagement, Mention

__all__ = ["Author", "Engagement", "Mention"]
