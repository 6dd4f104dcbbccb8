"""Running untrusted programs in many PLs: sandbox, batching, statuses, results store, pass@k."""

from xpl.execution.engine import Engine
from xpl.execution.job import Job, Limits, Result, Status
from xpl.execution.metrics import pass_at_k, pass_at_k_table
from xpl.execution.sandbox import SandboxUnavailable
from xpl.execution.store import Store

__all__ = ["Engine", "Job", "Limits", "Result", "Status", "SandboxUnavailable", "Store", "pass_at_k", "pass_at_k_table"]
