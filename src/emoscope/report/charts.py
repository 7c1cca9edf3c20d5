"""Report charts (matplotlib): emotion shares, emotion per interval, per-person timeline, cue timelines
(head pose).

Each chart is a ``draw_...(ax, ...)`` that draws onto a given Axes, so the Python API can draw it into a
notebook's figure (:mod:`emoscope.api`'s ``plot_...`` helpers) and the report writes it as a PNG (the
``..._chart(..., path)`` functions, at the size in :data:`FIGURE_SIZES`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emoscope.cues.base import CueTimeline
from emoscope.report.schema import PersonReport

# One fixed colour per emotion so every chart and report reads the same way.
COLOURS = {
    "angry": "#d62728", "disgust": "#8c564b", "fear": "#9467bd", "happy": "#2ca02c", "sad": "#1f77b4",
    "surprise": "#ff7f0e", "neutral": "#7f7f7f", "contempt": "#bcbd22",
}


def _colour(label: str) -> str:
    return COLOURS.get(label, "#17becf")


def draw_shares(ax, person: PersonReport) -> None:
    """A pie of the share of the person's time per emotion (the smoothed label of each frame)."""
    shares = {k: v for k, v in person.time_share.items() if v > 0}
    ax.pie(list(shares.values()), labels=list(shares), colors=[_colour(k) for k in shares],
           autopct=lambda p: f"{p:.0f}%" if p >= 3 else "", startangle=90, counterclock=False)
    ax.set_title(f"person {person.track_id}: share of time")


def draw_intervals(ax, person: PersonReport) -> None:
    """Stacked bars of the mean probability of each emotion in the five intervals, the dominant one
    (or "not seen") above each bar."""
    classes = list(person.average_probabilities)
    names = [i.name for i in person.intervals]
    bottom = np.zeros(len(names))
    for label in classes:
        values = np.array([(i.mean_probabilities or {}).get(label, 0.0) for i in person.intervals])
        ax.bar(names, values, bottom=bottom, color=_colour(label), label=label)
        bottom += values
    for x, interval in enumerate(person.intervals):
        ax.text(x, 1.02, interval.dominant or "not seen", ha="center", fontsize=8)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("mean probability")
    ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.12))


def draw_timeline(ax, person: PersonReport, times: np.ndarray, probs: np.ndarray, classes: list[str],
                  max_points: int = 2000) -> None:
    """Smoothed probabilities (``probs``: one row per time, one column per class) over time, with
    blinks as ticks and face touches as shaded spans; at most about ``max_points`` points a line."""
    stride = max(1, len(times) // max_points)
    t, p = times[::stride], probs[::stride]
    for k, label in enumerate(classes):
        ax.plot(t, p[:, k], color=_colour(label), label=label, linewidth=1.2)
    if person.touches:
        for i, (start, end) in enumerate(person.touches.episodes):
            ax.axvspan(start, end, color="black", alpha=0.12, label="face touch" if i == 0 else None)
    if person.blinks and person.blinks.times:
        ax.plot(person.blinks.times, [1.03] * len(person.blinks.times), "|", color="black",
                markersize=8, label="blink")
    ax.set_ylim(0, 1.08)
    _label_timeline(ax, "probability", f"person {person.track_id}: expression timeline", 5)


def draw_cue_timeline(ax, person: PersonReport, timeline: CueTimeline, max_points: int = 2000) -> None:
    """A cue's series over time (e.g. yaw, pitch and roll) with its events (e.g. nods, shakes,
    looking away) shaded."""
    stride = max(1, len(timeline.times) // max_points)
    for name, values in timeline.values.items():
        ax.plot(timeline.times[::stride], values[::stride], label=name, linewidth=1.1)
    for (name, spans), colour in zip(timeline.spans.items(), ("black", "tab:green", "tab:red", "tab:purple")):
        for i, (start, end) in enumerate(spans):
            ax.axvspan(start, end, color=colour, alpha=0.12, label=name if i == 0 else None)
    _label_timeline(ax, timeline.unit, f"person {person.track_id}: {timeline.title}", 6)


def _label_timeline(ax, ylabel: str, title: str, legend_columns: int) -> None:
    """Label a timeline's axes and put its legend under it."""
    ax.set_xlabel("time (s)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=legend_columns, loc="upper center", bbox_to_anchor=(0.5, -0.2))


FIGURE_SIZES = {draw_shares: (4.5, 4.5), draw_intervals: (6.5, 3.5), draw_timeline: (10, 3.5),
                draw_cue_timeline: (10, 3.2)}
"""Inches of each chart's own figure (in the report, and from the API when no Axes is given)."""


def chart_figure(draw, *args, ax=None, **kwargs):
    """Draw one chart onto ``ax`` and return its figure, or, with no ``ax``, onto a new pyplot figure of
    the chart's size (in whatever backend matplotlib runs: a notebook's inline one, or Agg headless)."""
    if ax is not None:
        draw(ax, *args, **kwargs)
        return ax.figure
    import matplotlib.pyplot as plt

    return _own_figure(plt.figure(figsize=FIGURE_SIZES[draw]), draw, *args, **kwargs)


def _own_figure(figure, draw, *args, **kwargs):
    draw(figure.subplots(), *args, **kwargs)
    figure.tight_layout()
    return figure


def _write(path: Path, draw, *args, **kwargs) -> Path:
    """Write one chart as a PNG. Its figure is not pyplot's: no backend is chosen or switched (a
    notebook that writes a report keeps its own), nothing is left open, and threads can draw at once."""
    from matplotlib.figure import Figure

    _own_figure(Figure(figsize=FIGURE_SIZES[draw]), draw, *args, **kwargs).savefig(path, dpi=100)
    return path


def pie_chart(person: PersonReport, path: Path) -> Path:
    return _write(path, draw_shares, person)


def interval_chart(person: PersonReport, path: Path) -> Path:
    return _write(path, draw_intervals, person)


def timeline_chart(person: PersonReport, times: np.ndarray, probs: np.ndarray, classes: list[str],
                   path: Path, max_points: int = 2000) -> Path:
    return _write(path, draw_timeline, person, times, probs, classes, max_points)


def cue_timeline_chart(person: PersonReport, timeline: CueTimeline, path: Path, max_points: int = 2000) -> Path:
    return _write(path, draw_cue_timeline, person, timeline, max_points)
