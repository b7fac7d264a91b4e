"""`self.log` accumulation and reduction, and the three metric dictionaries (docs/logging.md)."""
from statetrainer.metrics.batch_size import extract_batch_size
from statetrainer.metrics.book import MetricBook
from statetrainer.metrics.hook_rules import HOOK_RULES, LogRule, resolve_levels, rules_markdown
from statetrainer.metrics.results_table import format_results, print_results

__all__ = sorted(["HOOK_RULES", "LogRule", "MetricBook", "extract_batch_size", "format_results", "print_results",
                  "resolve_levels", "rules_markdown"])
