"""Problems: the PL-neutral problem record, its rendering into each PL, and problem files
(xpl JSONL, MultiPL-E JSONL)."""

from xpl.problems.io import MultiPLERecord, read_multipl_e, read_problems, to_multipl_e, write_multipl_e, write_problems
from xpl.problems.problem import Problem, ProblemFormatError, Rendered, decode, encode

__all__ = [
    "MultiPLERecord",
    "Problem",
    "ProblemFormatError",
    "Rendered",
    "decode",
    "encode",
    "read_multipl_e",
    "read_problems",
    "to_multipl_e",
    "write_multipl_e",
    "write_problems",
]
