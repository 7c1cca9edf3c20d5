"""The plot helpers of the Python API (emoscope.plot_shares, plot_intervals, plot_timeline,
plot_head_pose) on the bundled sample clip: they draw the report's own charts, from the frame table
and its report, onto a new figure or a given Axes, for the person asked; and the report's PNG writers,
which share the drawing code, still write their files."""

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("mediapipe")
pytest.importorskip("matplotlib")

import matplotlib  # noqa: E402
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

import emoscope  # noqa: E402
from emoscope.errors import EmoscopeError  # noqa: E402
from emoscope.report import charts  # noqa: E402
from emoscope.report.schema import Report  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "WolfgangLanger_Pexels.mp4"
SECONDS = 6  # the first 6 s show a face touch (from 2.7 s) and a nod (1.8-4.3 s)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The frame table of the clip's first seconds (in memory), and the same run's files as
    `emoscope analyze` writes them (report JSON, frames.csv, chart PNGs)."""
    out = tmp_path_factory.mktemp("report")
    with emoscope.Analyzer(model="fer-default", threads=1) as analyzer:
        table = analyzer.frame_table(SAMPLE, max_seconds=SECONDS)
        analyzer.analyze_video(SAMPLE, out_dir=out, max_seconds=SECONDS)
    return table, out


@pytest.fixture(autouse=True)
def no_window(monkeypatch):
    """Nothing may be shown; every figure a test made is closed after it."""
    def refuse(*args, **kwargs):
        raise AssertionError("plt.show() called")

    monkeypatch.setattr(plt, "show", refuse)
    yield
    plt.close("all")


def person_rows(table, track_id=1):
    return table[table["track"] == track_id]


def span_extents(ax) -> np.ndarray:
    """(start, end) in data x of each shaded span (axvspan) of ``ax``, one row each."""
    extents = []
    for patch in ax.patches:
        xs = patch.get_path().transformed(patch.get_patch_transform()).vertices[:, 0]
        extents.append((xs.min(), xs.max()))
    return np.array(extents).reshape(-1, 2)


def same_spans(ax, spans) -> bool:
    drawn, expected = span_extents(ax), np.array(spans, dtype=float).reshape(-1, 2)
    return drawn.shape == expected.shape and np.allclose(drawn, expected)


def two_people(table, report: Report, second_seen_longer: bool):
    """The run as if a second person (track 2) had been seen too: person 1's rows of the first 3 s
    (or of every frame) copied under track 2, and a report entry for them whose share of time is
    all 'happy', so every chart tells the two apart."""
    first = report.people[0]
    rows = person_rows(table)
    copied = rows if second_seen_longer else rows[rows["time"] < 3]
    copied = copied.assign(track=2, **{f"p_{c}": 0.5 for c in report.analysis.model_classes})
    second = first.model_copy(update={
        "track_id": 2, "visible_seconds": first.visible_seconds + 1 if second_seen_longer else 3.0,
        "time_share": {c: float(c == "happy") for c in first.time_share}})
    both = pd.concat([table, copied], ignore_index=True)
    both.attrs["report"] = report.model_copy(update={"people": [first, second]})
    return both


# -- each helper draws its chart --------------------------------------------------------------------------

def test_the_timeline_has_one_line_per_class_from_the_table_and_the_face_touches(run):
    table, _ = run
    report = table.attrs["report"]
    person = report.people[0]
    figure = emoscope.plot_timeline(table)
    assert isinstance(figure, plt.Figure)
    assert tuple(figure.get_size_inches()) == charts.FIGURE_SIZES[charts.draw_timeline]
    (ax,) = figure.axes
    classes = report.analysis.model_classes
    rows = person_rows(table)
    assert [line.get_label() for line in ax.lines] == classes  # no blink ticks: none in these seconds
    for line, label in zip(ax.lines, classes):
        assert np.allclose(line.get_xdata(), rows["time"]) and np.allclose(line.get_ydata(), rows[f"p_{label}"])
        assert line.get_color() == charts.COLOURS[label]
    assert person.touches.episodes, "the clip's first seconds show a face touch"
    assert same_spans(ax, person.touches.episodes)
    assert ax.get_title() == "person 1: expression timeline" and ax.get_xlabel() == "time (s)"


def test_the_timeline_marks_each_blink_of_the_report(run):
    table, _ = run
    report = table.attrs["report"]
    person = report.people[0]
    blinked = person.model_copy(update={"blinks": person.blinks.model_copy(update={"times": [0.5, 4.25]})})
    figure = emoscope.plot_timeline(table, report=report.model_copy(update={"people": [blinked]}))
    ticks = [line for line in figure.axes[0].lines if line.get_label() == "blink"]
    assert len(ticks) == 1 and list(ticks[0].get_xdata()) == [0.5, 4.25]


def test_shares_draw_a_wedge_per_emotion_seen(run):
    table, _ = run
    person = table.attrs["report"].people[0]
    seen = [label for label, share in person.time_share.items() if share > 0]
    for source in (table, table.attrs["report"]):  # a frame table or its report
        figure = emoscope.plot_shares(source)
        ax = figure.axes[0]
        assert len(ax.patches) == len(seen)
        assert [text.get_text() for text in ax.texts if text.get_text() in person.time_share] == seen
        assert ax.get_title() == "person 1: share of time"


def test_intervals_stack_one_bar_per_class_in_each_interval(run):
    table, _ = run
    person = table.attrs["report"].people[0]
    ax = emoscope.plot_intervals(table).axes[0]
    classes = list(person.average_probabilities)
    assert len(ax.containers) == len(classes) and all(len(bars) == 5 for bars in ax.containers)
    for bars, label in zip(ax.containers, classes):
        expected = [(i.mean_probabilities or {}).get(label, 0.0) for i in person.intervals]
        assert [bar.get_height() for bar in bars] == pytest.approx(expected)
    above = [text.get_text() for text in ax.texts]
    assert above == [i.dominant or "not seen" for i in person.intervals] and above[0] != "not seen"


def test_head_pose_draws_the_tables_angles_and_the_reports_nods(run):
    table, _ = run
    person = table.attrs["report"].people[0]
    figure = emoscope.plot_head_pose(table)
    assert tuple(figure.get_size_inches()) == charts.FIGURE_SIZES[charts.draw_cue_timeline]
    ax = figure.axes[0]
    rows = person_rows(table).dropna(subset=["yaw"])
    assert [line.get_label() for line in ax.lines] == ["yaw", "pitch", "roll"]
    for line in ax.lines:
        assert np.allclose(line.get_xdata(), rows["time"]) and np.allclose(line.get_ydata(), rows[line.get_label()])
    section = person.head_pose
    spans = [*section["looking_away"], *section["nods"], *section["shakes"]]
    assert section["nods"], "the clip's first seconds show a nod"
    assert same_spans(ax, spans)
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "nods" in legend and ax.get_ylabel() == "degrees"


def test_head_pose_not_measured_is_one_error_line(run):
    table, _ = run
    report = table.attrs["report"]
    unmeasured = report.people[0].model_copy(update={"head_pose": None})
    with pytest.raises(EmoscopeError, match="head pose was not measured") as raised:
        emoscope.plot_head_pose(table, report=report.model_copy(update={"people": [unmeasured]}))
    assert "\n" not in str(raised.value)


# -- onto a given Axes, for the person asked ---------------------------------------------------------------

def test_each_helper_draws_onto_a_given_axes_and_returns_its_figure(run):
    table, _ = run
    figure, axes = plt.subplots(2, 3, figsize=(15, 7))
    helpers = (emoscope.plot_shares, emoscope.plot_intervals, emoscope.plot_timeline, emoscope.plot_head_pose)
    for helper, ax in zip(helpers, axes.flat):
        assert helper(table, ax=ax) is figure
    titles = [ax.get_title() for ax in axes.flat]
    assert titles == ["person 1: share of time", "", "person 1: expression timeline", "person 1: head pose", "", ""]
    assert len(axes.flat[1].containers) == len(table.attrs["report"].analysis.model_classes)
    assert not axes.flat[4].has_data() and len(plt.get_fignums()) == 1  # no figure of their own
    assert tuple(figure.get_size_inches()) == (15, 7)


@pytest.mark.parametrize("second_seen_longer", [False, True])
def test_no_person_means_the_one_seen_longest_and_a_track_id_picks_one(run, second_seen_longer):
    table, _ = run
    both = two_people(table, table.attrs["report"], second_seen_longer)
    longest = 2 if second_seen_longer else 1
    assert emoscope.plot_timeline(both).axes[0].get_title() == f"person {longest}: expression timeline"
    first_class = f"p_{table.attrs['report'].analysis.model_classes[0]}"
    for track_id in (1, 2):
        ax = emoscope.plot_timeline(both, person=track_id).axes[0]
        assert ax.get_title() == f"person {track_id}: expression timeline"
        rows = person_rows(both, track_id)
        assert np.allclose(ax.lines[0].get_xydata(), rows[["time", first_class]])  # 0.5 throughout for person 2
        wedges = [text.get_text() for text in emoscope.plot_shares(both, person=track_id).axes[0].texts]
        assert ("happy" in wedges) == (track_id == 2)
    assert emoscope.plot_head_pose(both, person=2).axes[0].get_title() == "person 2: head pose"
    assert emoscope.plot_intervals(both, person=np.int64(2)).axes[0].texts  # a track id read from the table


def test_an_unknown_person_is_one_error_line_naming_those_seen(run):
    table, _ = run
    both = two_people(table, table.attrs["report"], second_seen_longer=False)
    for helper in (emoscope.plot_shares, emoscope.plot_intervals, emoscope.plot_timeline, emoscope.plot_head_pose):
        with pytest.raises(EmoscopeError) as raised:
            helper(both, person=7)
        message = str(raised.value)
        assert "\n" not in message and message.startswith("no person 7 in ")
        assert message.endswith("the people seen (track ids): 1 (6.0 s), 2 (3.0 s)")


def test_a_table_without_its_report_or_a_run_without_people_is_one_error_line(run):
    table, _ = run
    bare = pd.DataFrame(table)
    bare.attrs = {}
    for call in (lambda: emoscope.plot_timeline(bare), lambda: emoscope.plot_shares(bare),
                 lambda: emoscope.plot_shares(table.attrs["report"].model_copy(update={"people": []})),
                 lambda: emoscope.plot_timeline(bare.drop(columns="p_sad"), report=table.attrs["report"])):
        with pytest.raises(EmoscopeError) as raised:
            call()
        assert "\n" not in str(raised.value)


def test_the_files_of_a_run_chart_the_same_as_the_table_in_memory(run):
    """frames.csv read with pandas and the report read from its JSON draw what the in-memory table does."""
    table, out = run
    from_files = pd.read_csv(out / "WolfgangLanger_Pexels.frames.csv")
    report = Report.model_validate_json((out / "WolfgangLanger_Pexels.report.json").read_text())
    for helper in (emoscope.plot_timeline, emoscope.plot_head_pose):
        read, kept = helper(from_files, report=report).axes[0], helper(table).axes[0]
        assert [line.get_label() for line in read.lines] == [line.get_label() for line in kept.lines]
        for a, b in zip(read.lines, kept.lines):
            assert np.allclose(a.get_xydata(), b.get_xydata())
        assert same_spans(read, span_extents(kept))


# -- the report's PNGs share the drawing -------------------------------------------------------------------

def test_the_report_still_writes_each_chart_and_the_api_draws_the_same_picture(run):
    table, out = run
    for name, helper, draw in (("shares", emoscope.plot_shares, charts.draw_shares),
                               ("intervals", emoscope.plot_intervals, charts.draw_intervals),
                               ("timeline", emoscope.plot_timeline, charts.draw_timeline),
                               ("head_pose", emoscope.plot_head_pose, charts.draw_cue_timeline)):
        written = mpimg.imread(out / f"WolfgangLanger_Pexels.person1.{name}.png")
        width, height = charts.FIGURE_SIZES[draw]
        assert written.shape[:2] == (height * 100, width * 100)
        drawn = io.BytesIO()
        helper(table).savefig(drawn, format="png", dpi=100)
        drawn.seek(0)
        differing = np.abs(mpimg.imread(drawn) - written).max(axis=-1) > 0
        # the table rounds times to 1 ms and values to 1e-4: a timeline's lines move by a fraction of a pixel
        assert differing.mean() < (0.05 if "timeline" in draw.__name__ else 1e-9), name


def test_the_png_writers_write_a_file_and_leave_the_notebooks_figures_and_backend_alone(run, tmp_path):
    table, _ = run
    person = table.attrs["report"].people[0]
    backend = matplotlib.get_backend()
    plt.switch_backend("svg")  # stands in for a notebook's own backend
    try:
        mine = plt.figure()
        for write, draw in ((charts.pie_chart, charts.draw_shares), (charts.interval_chart, charts.draw_intervals)):
            path = tmp_path / f"{write.__name__}.png"
            assert write(person, path) == path
            width, height = charts.FIGURE_SIZES[draw]
            assert mpimg.imread(path).shape[:2] == (height * 100, width * 100)
        assert matplotlib.get_backend() == "svg" and plt.get_fignums() == [mine.number]
    finally:
        plt.switch_backend(backend)
