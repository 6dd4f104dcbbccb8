"""Running untrusted programs in many PLs: sandbox, batching, statuses, results store, pass@k."""

from xpl.execution.engine import Engine
from xpl.execution.job import FieldError, Job, Limits, Result, Status, invalid_input
from xpl.execution.metrics import pass_at_k, pass_at_k_table
from xpl.execution.sandbox import SandboxUnavailable
from xpl.execution.store import Store

__all__ = ["Engine", "FieldError", "Job", "Limits", "Result", "Status", "SandboxUnavailable", "Store", "invalid_input", "pass_at_k", "pass_at_k_table"]
