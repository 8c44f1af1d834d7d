"""The campaign report: KPIs a coordinator reports upward, as ``report/report.json``
and a self-contained ``report/report.html`` rendered from that JSON only."""

from owd.report.build import FORMAT, LOCAL_SITE, build_report, write_report
from owd.report.html import render_html

__all__ = ["FORMAT", "LOCAL_SITE", "build_report", "render_html", "write_report"]
