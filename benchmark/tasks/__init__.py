"""Task registry: the eight tasks and their per-tier protocols."""

from benchmark.tasks.protocol import ALL_METRICS, HEADLINE_METRICS, TIERS, LocalMD, Protocol
from benchmark.tasks.registry import TASKS, Task, get_task, task_names

__all__ = ["ALL_METRICS", "HEADLINE_METRICS", "TASKS", "TIERS", "LocalMD", "Protocol", "Task", "get_task", "task_names"]
