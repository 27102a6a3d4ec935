"""kbtrans: keep a Markdown knowledge base in two languages."""

__version__ = "0.1.0"
