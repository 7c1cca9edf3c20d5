"""Properties of the report logic, checked on generated inputs (hypothesis): episodes, parts and
intervals, transitions, the debouncer, the blink detector and the built per-person report.

Every property is stated from docs/report.md, not from the code: where the two differ the code
was fixed, or the comment says why the definition is what it is. Examples are derandomized so CI
runs the same cases every time.
"""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from emoscope.cues.base import FaceObservation, create_cues
from emoscope.cues.blinks import BlinkDetector
from emoscope.cues.debounce import Debouncer, EpisodeLog
from emoscope.report.builder import ReportBuilder, ReportOptions
from emoscope.report.schema import AnalysisModel, Report, VideoModel
from emoscope.report.timeline import (
    DEFAULT_VALENCE,
    INTERVAL_NAMES,
    Episode,
    count_transitions,
    dominant_per_part,
    episodes,
    label_runs,
    mean_per_part,
)
from emoscope.video.pipeline import AnalysisOptions
from emoscope.video.results import FaceResult, FrameResult
from emoscope.video.source import Frame

EXAMPLES = 300
BUILDER_EXAMPLES = 100
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, derandomize=True)
BUILDER_PROPERTY = settings(max_examples=BUILDER_EXAMPLES, deadline=None, derandomize=True)

LABELS = ("happy", "sad", "angry", "neutral", "surprise", "fear")
TOLERANCE = 1e-9

frame_dts = st.sampled_from([0.04, 0.1, 1 / 23.976, 0.5])
labels = st.sampled_from(LABELS)


@st.composite
def labelled_series(draw, min_size=0, duplicates=False):
    """(times, labels, frame_dt): times as the loop makes them (one frame_dt apart or more, with
    absences of the face), or, with ``duplicates``, also repeated and closer than frame_dt."""
    frame_dt = draw(frame_dts)
    n = draw(st.integers(min_size, 60))
    steps = [1, 1, 1, 2, 5, 15, 40] + ([0, 0.3] if duplicates else [])
    gaps = draw(st.lists(st.sampled_from(steps), min_size=n, max_size=n))
    start = draw(st.sampled_from([0.0, 0.5, 3.0]))
    times = start + np.cumsum([0, *gaps[1:]]) * frame_dt if n else np.zeros(0)
    # long runs of one label are what make episodes: draw labels as runs
    series_labels: list[str] = []
    while len(series_labels) < n:
        series_labels += [draw(labels)] * draw(st.integers(1, 12))
    return np.asarray(times, dtype=np.float64), series_labels[:n], frame_dt


min_durations = st.sampled_from([0.0, 0.1, 0.3, 0.5, 1.0, 2.0, 3.0])
max_gaps = st.sampled_from([None, 0.0, 0.2, 1.0, 2.5])


def effective_max_gap(max_gap, frame_dt):
    """The gap ``episodes`` uses: 1 s by default, never below 1.5 frames (one dropped frame is no absence)."""
    return max(1.0 if max_gap is None else max_gap, 1.5 * frame_dt)


def absences(times, max_gap):
    """Indices i where the face was absent for longer than ``max_gap`` between frames i-1 and i."""
    return [i for i in range(1, len(times)) if times[i] - times[i - 1] > max_gap]


def frames_of(episode, times):
    return [i for i, t in enumerate(times) if episode.start - TOLERANCE <= t < episode.end - TOLERANCE]


# ---- episodes ----------------------------------------------------------------------------------


@PROPERTY
@given(labelled_series(), min_durations, max_gaps)
def test_episodes_are_ordered_disjoint_long_enough_and_within_the_frames(series, min_duration, max_gap):
    times, frame_labels, frame_dt = series
    eps = episodes(times, frame_labels, frame_dt, min_duration, max_gap)
    for episode in eps:
        assert episode.duration >= min_duration and episode.duration > 0
        assert times[0] - TOLERANCE <= episode.start and episode.end <= times[-1] + frame_dt + TOLERANCE
        assert episode.label in frame_labels
    for before, after in pairwise(eps):
        assert before.end <= after.start + TOLERANCE, "episodes overlap or are out of order"


@PROPERTY
@given(labelled_series(), min_durations, max_gaps)
def test_same_label_neighbours_are_apart_only_across_an_absence_or_a_long_non_episode(series, min_duration, max_gap):
    """Consecutive episodes of one label stay apart only when the face was absent for longer than
    max_gap between them, or when what separates them lasts longer than a flicker may
    (max(min_duration, max_gap)); the definition joins them otherwise."""
    times, frame_labels, frame_dt = series
    gap = effective_max_gap(max_gap, frame_dt)
    eps = episodes(times, frame_labels, frame_dt, min_duration, max_gap)
    for before, after in pairwise(eps):
        if before.label != after.label:
            continue
        absent_between = any(before.start < times[i] <= after.start + TOLERANCE for i in absences(times, gap))
        assert absent_between or after.start - before.end > max(min_duration, gap) - TOLERANCE


@PROPERTY
@given(labelled_series(), min_durations, max_gaps)
def test_no_episode_spans_an_absence_longer_than_max_gap(series, min_duration, max_gap):
    """docs/report.md: "a gap of more than 1 s without the face ends a run"."""
    times, frame_labels, frame_dt = series
    gap = effective_max_gap(max_gap, frame_dt)
    for episode in episodes(times, frame_labels, frame_dt, min_duration, max_gap):
        inside = [t for t in times if episode.start - TOLERANCE <= t < episode.end - TOLERANCE]
        assert all(b - a <= gap for a, b in pairwise(inside))


@PROPERTY
@given(labelled_series(), max_gaps)
def test_without_a_minimum_duration_the_runs_partition_the_frames(series, max_gap):
    times, frame_labels, frame_dt = series
    gap = effective_max_gap(max_gap, frame_dt)
    eps = episodes(times, frame_labels, frame_dt, 0.0, max_gap)
    assert eps == label_runs(times, frame_labels, frame_dt, gap)
    covered = [i for episode in eps for i in frames_of(episode, times)]
    assert covered == list(range(len(times))), "every frame in exactly one run, in order"
    assert all(frame_labels[i] == episode.label for episode in eps for i in frames_of(episode, times))


@PROPERTY
@given(labelled_series(duplicates=True), min_durations, max_gaps)
def test_repeated_and_close_timestamps_keep_episodes_ordered_and_within_the_frames(series, min_duration, max_gap):
    """Each frame lasts frame_dt, so frames closer than that (never made by the loop, whose times are
    index / fps) may give overlapping runs; order, lengths and bounds still hold."""
    times, frame_labels, frame_dt = series
    eps = episodes(times, frame_labels, frame_dt, min_duration, max_gap)
    assert [e.start for e in eps] == sorted(e.start for e in eps)
    for episode in eps:
        assert episode.duration >= max(min_duration, frame_dt) - TOLERANCE
        assert times[0] - TOLERANCE <= episode.start and episode.end <= times[-1] + frame_dt + TOLERANCE
    runs = label_runs(times, frame_labels, frame_dt, effective_max_gap(max_gap, frame_dt))
    absent = set(absences(times, effective_max_gap(max_gap, frame_dt)))
    breaks = [i for i in range(1, len(times)) if frame_labels[i] != frame_labels[i - 1] or i in absent]
    assert len(runs) == (len(breaks) + 1 if len(times) else 0), "a run ends at each label change and absence"


# ---- transitions -------------------------------------------------------------------------------

valences = st.one_of(st.none(), st.dictionaries(labels, st.sampled_from([-1, 0, 1])))


@PROPERTY
@given(st.lists(labels, max_size=20), valences)
def test_transitions_are_the_label_changes_and_hard_only_across_opposite_valence(episode_labels, valence):
    eps = [Episode(label, float(i), 1.0) for i, label in enumerate(episode_labels)]
    soft, hard = count_transitions(eps, valence)
    changes = [(a, b) for a, b in pairwise(episode_labels) if a != b]
    assert soft + hard == len(changes)
    signs = DEFAULT_VALENCE if valence is None else valence
    assert hard == sum(1 for a, b in changes if {signs.get(a, 0), signs.get(b, 0)} == {-1, 1})


# ---- parts and intervals -----------------------------------------------------------------------


def probability_rows(draw, n, classes):
    rows = draw(st.lists(st.lists(st.floats(0.0, 1.0, width=32), min_size=classes, max_size=classes),
                         min_size=n, max_size=n))
    probs = np.array(rows, dtype=np.float32).reshape(n, classes) + np.float32(1e-3)
    return probs / probs.sum(axis=1, keepdims=True)


@PROPERTY
@given(st.data())
def test_a_part_is_none_exactly_when_unseen_and_its_dominant_is_the_argmax_of_its_mean(data):
    duration = data.draw(st.sampled_from([1.0, 4.0, 19.686333333333334, 60.0]))
    parts = data.draw(st.integers(1, 12))
    classes = [f"c{k}" for k in range(data.draw(st.integers(1, 4)))]
    # frames well inside their part (slice boundaries are float-rounded, so stay clear of them),
    # plus the video's last instant and frames past it, which belong to the last part
    chosen = data.draw(st.lists(st.integers(0, parts - 1), max_size=30))
    offsets = data.draw(st.lists(st.floats(0.05, 0.95), min_size=len(chosen), max_size=len(chosen)))
    times = [(part + offset) * duration / parts for part, offset in zip(chosen, offsets)]
    at_or_past_end = data.draw(st.lists(st.sampled_from([1.0, 1.5]), max_size=2))
    times += [duration * factor for factor in at_or_past_end]
    expected_part = chosen + [parts - 1] * len(at_or_past_end)
    probs = probability_rows(data.draw, len(times), len(classes))
    times = np.array(times, dtype=np.float64)

    means = mean_per_part(times, probs, duration, parts)
    dominant = dominant_per_part(times, probs, duration, parts, classes)
    assert len(means) == len(dominant) == parts
    for part in range(parts):
        rows = [i for i, p in enumerate(expected_part) if p == part]
        assert (means[part] is None) == (not rows) == (dominant[part] is None)
        if rows:
            np.testing.assert_array_equal(means[part], probs[rows].mean(axis=0))
            assert np.all(np.isfinite(means[part]))
            assert dominant[part] == classes[int(np.argmax(probs[rows].mean(axis=0)))]


@PROPERTY
@given(labelled_series(), st.integers(1, 12))
def test_a_video_of_unknown_duration_still_slices_every_frame_into_a_part(series, parts):
    times, _, _ = series
    probs = np.ones((len(times), 2), dtype=np.float32) / 2
    means = mean_per_part(times, probs, 0.0, parts)
    assert len(means) == parts
    assert sum(0 if m is None else 1 for m in means) <= len(times)
    assert (len(times) == 0) == all(m is None for m in means)


# ---- debouncer ---------------------------------------------------------------------------------


@PROPERTY
@given(st.lists(st.booleans(), max_size=80), st.integers(1, 6), st.integers(1, 6))
def test_debouncer_hysteresis_and_episode_starts(answers, enter_frames, exit_frames):
    debouncer = Debouncer(enter_frames, exit_frames)
    times = [0.1 * i for i in range(len(answers))]
    active = []
    starts = []
    for i, (yes, t) in enumerate(zip(answers, times)):
        was_active = debouncer.active
        started = debouncer.update(yes, t)
        active.append(debouncer.active)
        streak = answers[: i + 1][::-1]
        yes_streak = next((k for k, a in enumerate(streak) if not a), len(streak))
        no_streak = next((k for k, a in enumerate(streak) if a), len(streak))
        if not was_active and debouncer.active:
            assert yes_streak >= enter_frames, "active before enter_frames 'yes' in a row"
            assert started == times[i - yes_streak + 1], "an episode starts at the first frame of its streak"
            starts.append(started)
        else:
            assert started is None
        if was_active and not debouncer.active:
            assert no_streak >= exit_frames, "inactive before exit_frames 'no' in a row"
        # and the switches happen as soon as the streaks allow
        if not was_active and yes_streak >= enter_frames:
            assert debouncer.active
        if was_active and no_streak >= exit_frames:
            assert not debouncer.active
    assert [start for start, _ in debouncer.episodes] == starts
    for start, last_yes in debouncer.episodes:
        assert start <= last_yes and answers[times.index(last_yes)]

    log = EpisodeLog()
    replay = Debouncer(enter_frames, exit_frames)
    for yes, t in zip(answers, times):
        started = replay.update(yes, t)
        log.add(started, replay.active and yes, t)
    summary = log.summary(0.1)
    assert summary["count"] == len(starts)
    assert summary["episodes"] == [(start, last + 0.1) for start, last in debouncer.episodes]
    assert math.isclose(summary["total_seconds"], sum(b - a for a, b in summary["episodes"]))
    assert all(b > a for a, b in summary["episodes"])


# ---- blinks ------------------------------------------------------------------------------------

ears = st.floats(0.0, 0.4, allow_nan=False)


@st.composite
def ear_series(draw):
    """(times, EARs): open eyes with closures of a few frames; sometimes the face is lost for a while."""
    frame_dt = draw(st.sampled_from([1 / 30, 0.04, 0.1]))
    n = draw(st.integers(0, 120))
    steps = draw(st.lists(st.sampled_from([1, 1, 1, 1, 2, 30, 80]), min_size=n, max_size=n))
    times = list(np.cumsum([0, *steps[1:]]) * frame_dt) if n else []
    values: list[float] = []
    while len(values) < n:
        if draw(st.booleans()):
            values += [draw(st.floats(0.25, 0.35))] * draw(st.integers(1, 15))
        else:
            values += [draw(ears) for _ in range(draw(st.integers(1, 30)))]
    return [float(t) for t in times], values[:n]


@PROPERTY
@given(ear_series(), st.integers(1, 4), st.sampled_from([0.2, 0.8, 2.0]))
def test_blinks_come_only_on_reopening_after_a_deep_enough_short_enough_closure(series, min_closed, max_closed_s):
    times, values = series
    detector = BlinkDetector(min_closed_frames=min_closed, max_closed_s=max_closed_s)
    closed_after, levels, blinks, reopenings = [], [], [], 0
    for i, (t, ear) in enumerate(zip(times, values)):
        was_closed = detector.eyes_closed
        blink = detector.update(ear, t)
        closed_after.append(detector.eyes_closed)
        levels.append(detector.open_level)
        # the open-eye level: 80th percentile of the last window_s seconds, after warmup_frames frames
        recent = [e for s, e in zip(times[: i + 1], values[: i + 1]) if t - s <= detector.window_s]
        assert levels[-1] == (None if len(recent) < detector.warmup_frames else float(np.percentile(recent, 80)))
        reopenings += was_closed and not detector.eyes_closed
        if not blink:
            continue
        blinks.append(t)
        assert was_closed and not detector.eyes_closed, "a blink is counted on the reopening frame"
        closure = []
        for j in range(i - 1, -1, -1):
            if not closed_after[j]:
                break
            closure.append(j)
        assert len(closure) >= min_closed
        assert t - times[closure[-1]] <= max_closed_s
        assert all(values[j] < detector.closed_ratio * levels[j] for j in closure)
        assert any(values[j] < detector.depth_ratio * levels[j] for j in closure), "too shallow to be a blink"
    assert len(blinks) <= reopenings
    assert detector.blink_times == blinks


@PROPERTY
@given(st.floats(0.0, 0.5), st.integers(0, 200), st.sampled_from([1 / 30, 0.1, 3.0]))
def test_a_constant_eye_aspect_ratio_never_blinks(ear, n, frame_dt):
    detector = BlinkDetector()
    assert not any(detector.update(ear, i * frame_dt) for i in range(n))
    assert not detector.eyes_closed


# ---- the built report --------------------------------------------------------------------------

CLASS_SETS = [["happy"], ["neutral", "happy"], ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"],
              ["calm", "panic"]]


def finite_numbers(value, where="report"):
    """Every float in a dumped report, with its path (JSON would write NaN / infinity as null)."""
    if isinstance(value, float):
        assert math.isfinite(value), f"{where} = {value}"
    elif isinstance(value, dict):
        for key, item in value.items():
            finite_numbers(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for k, item in enumerate(value):
            finite_numbers(item, f"{where}[{k}]")


@st.composite
def analysed_videos(draw):
    """A builder fed a generated stream: up to three people, each frame with random probabilities,
    EARs, gaze, touching and panic (with crowd alerts), frames one frame_dt apart, repeated, or after
    long absences; no frame, one frame, one class."""
    classes = draw(st.sampled_from(CLASS_SETS))
    frame_dt = draw(st.sampled_from([1 / 23.976, 0.1, 0.5]))
    options = ReportOptions(parts=draw(st.integers(1, 40)), min_episode_s=draw(min_durations),
                            min_person_s=draw(st.sampled_from([0.0, 0.2, 1.0])))
    # panic needs a panic class (fear, or a binary calm / panic model); short hysteresis makes episodes
    loop_options = AnalysisOptions(panic="fear" in classes or classes == ["calm", "panic"], touch_enter_frames=2,
                                   touch_exit_frames=2, panic_enter_frames=2, panic_exit_frames=2)
    cues = create_cues(loop_options, classes)
    builder = ReportBuilder(classes, frame_dt, options, cues)
    n = draw(st.integers(0, 50))
    steps = draw(st.lists(st.sampled_from([1, 1, 1, 0, 3, 40]), min_size=n, max_size=n))
    times = (np.cumsum([0, *steps[1:]]) * frame_dt).tolist() if n else []
    detectors: dict[int, BlinkDetector] = {}
    for index, t in enumerate(times):
        faces = []
        for track_id in draw(st.sets(st.integers(1, 3), max_size=3)):
            smoothed = probability_rows(draw, 1, len(classes))[0]
            on_face = draw(st.booleans())
            box = np.array([10.0, 10.0, 50.0, 50.0])
            hands = np.full((1, 21, 2), 30.0) if on_face else np.zeros((0, 21, 2))
            observation = FaceObservation(track_id, t, box, smoothed, None, hands)
            data = {}
            for cue in cues:
                if cue.enabled and cue.name in ("touches", "panic"):
                    data.update(cue.update(observation))
            ear = draw(st.one_of(st.none(), st.floats(0.0, 0.4)))
            if ear is not None:
                blink = detectors.setdefault(track_id, BlinkDetector()).update(ear, t)
                data.update(ear=ear, blink=blink, gaze=draw(st.sampled_from(["left", "centre", "right"])))
            faces.append(FaceResult(track_id, box, 1.0, smoothed, smoothed, classes[int(np.argmax(smoothed))], data))
        events = [event for cue in cues if cue.enabled for event in cue.end_frame(t, [f.data for f in faces])]
        builder.add(FrameResult(Frame(index, t, np.zeros((1, 1, 3), np.uint8)), faces, events=events))
    # unknown (0), as the container counts the frames (shorter than their span after an absence), or the span
    duration = draw(st.sampled_from([0.0, len(times) * frame_dt, (times[-1] + frame_dt) if times else 1.0]))
    video = VideoModel(source="generated", fps=1 / frame_dt, frame_count=len(times), duration=duration,
                       width=1, height=1)
    return builder, video


@BUILDER_PROPERTY
@given(analysed_videos())
def test_every_number_in_a_built_report_is_finite_consistent_and_round_trips_through_json(video_stream):
    builder, video = video_stream
    analysis = AnalysisModel(model="generated", model_classes=builder.classes, detector="none", options={},
                             sample_fps=None, frames_analysed=builder.frames, seconds=1.0, processing_fps=1.0,
                             emoscope_version="test")
    report = builder.build(video, analysis)
    finite_numbers(report.model_dump())
    assert Report.model_validate_json(report.model_dump_json()) == report
    assert 0.0 <= report.face_visible_share <= 1.0
    for person in report.people:
        times, probs = builder.series(person.track_id)
        dt = builder.frame_dt
        assert person.frames == len(times) and math.isclose(person.visible_seconds, len(times) * dt)
        assert math.isclose(sum(person.time_share.values()), 1.0, rel_tol=1e-9)
        labels = probs.argmax(axis=1)
        for k, name in enumerate(builder.classes):
            assert person.time_share[name] == np.count_nonzero(labels == k) / len(times)
            assert person.average_probabilities[name] == float(probs.mean(axis=0)[k])
        assert person.dominant_emotion == builder.classes[int(np.argmax(probs.mean(axis=0)))]
        assert len(person.parts) == builder.options.parts and len(person.intervals) == len(INTERVAL_NAMES)
        seen_parts = sum(1 for p in person.parts if p is not None)
        assert 1 <= seen_parts <= len(times)
        # the intervals tile the video, and every frame falls in one of them
        assert person.intervals[0].start == 0.0
        for before, after in pairwise(person.intervals):
            assert math.isclose(before.end, after.start) and before.end >= before.start
        last_end = person.intervals[-1].end
        assert times[-1] <= last_end + TOLERANCE, "a frame after the last interval"
        for interval in person.intervals:
            assert (interval.dominant is None) == (interval.mean_probabilities is None)
        for episode in (person.longest_episode, person.shortest_episode):
            if episode is not None:
                assert episode.duration > 0
                assert person.first_seen - TOLERANCE <= episode.start
                assert episode.start + episode.duration <= person.last_seen + dt + TOLERANCE
        if person.longest_episode is not None:
            assert person.shortest_episode.duration <= person.longest_episode.duration
        soft, hard = person.transitions.soft, person.transitions.hard
        assert soft + hard <= max(person.episodes - 1, 0)
        assert person.distinct_emotions <= person.episodes
        if person.blinks is not None:
            assert person.blinks.count == len(person.blinks.times)
            assert person.blinks.measured_seconds <= person.visible_seconds + TOLERANCE
        if person.touches is not None:
            assert all(end > start for start, end in person.touches.episodes)
