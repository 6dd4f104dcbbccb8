"""Analyses of trained models.

``representations``: do equivalent programs in different PLs sit together inside the model?
Hidden states per layer (``embed``), intra/inter-group cosine distances and cross-PL
retrieval with bootstrap intervals (``layer_metrics``), and the whole analysis of several
models with plots and a markdown report (``analyze``, ``write_outputs``).
"""

from xpl.analysis.representations import (
    POOLINGS,
    AnalysisError,
    Groups,
    LayerStats,
    analyze,
    embed,
    group_stats,
    inter_distance,
    intra_distances,
    layer_metrics,
    make_groups,
    parse_layers,
    plot_metrics,
    plot_projection,
    relative_change,
    report_markdown,
    resample_weights,
    resolve_layers,
    retrieval,
    write_outputs,
)

__all__ = [
    "POOLINGS",
    "AnalysisError",
    "Groups",
    "LayerStats",
    "analyze",
    "embed",
    "group_stats",
    "inter_distance",
    "intra_distances",
    "layer_metrics",
    "make_groups",
    "parse_layers",
    "plot_metrics",
    "plot_projection",
    "relative_change",
    "report_markdown",
    "resample_weights",
    "resolve_layers",
    "retrieval",
    "write_outputs",
]
