"""The local test web: a deterministic, hostile stand-in for the web on loopback addresses."""

from owd.testweb.content import EU_LANGUAGES, HEALTH_WORD, LANG_TLD, Host, TestSite
from owd.testweb.render import ERROR_PATHS, Response, respond
from owd.testweb.server import LogEntry, TestWebServer, free_port, read_request_log

__all__ = [
    "EU_LANGUAGES", "HEALTH_WORD", "LANG_TLD", "Host", "TestSite", "ERROR_PATHS", "Response", "respond",
    "LogEntry", "TestWebServer", "free_port", "read_request_log",
]
