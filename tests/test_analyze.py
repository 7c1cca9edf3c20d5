"""The analysis loop and report on synthetic videos whose answers are known by construction.

The "face" is a square on a grey background: bright squares are happy, dark ones sad. A fake
detector finds the square and a fake classifier reads its brightness, so the report's episodes,
intervals, transitions and visibility can be checked exactly, independent of any trained model.
"""

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from emoscope.report.builder import ReportOptions
from emoscope.jobs.analyze import analyze_video
from emoscope.errors import DataError
from emoscope.faces import Detections
from emoscope.runtime.spec import ModelSpec
from emoscope.report.schema import AnalysisModel, VideoModel
from emoscope.video.pipeline import AnalysisOptions

CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
FPS = 10.0


class SquareDetector:
    name = "square"
    closed = False

    def detect(self, image):
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        ys, xs = np.nonzero(np.abs(gray.astype(int) - 128) > 60)
        if len(xs) == 0:
            return Detections.empty()
        return Detections([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], [0.99])

    def close(self):
        self.closed = True


class BrightnessClassifier:
    spec = ModelSpec(name="brightness", architecture="none", label_set="fer2013", classes=CLASSES)
    classes = CLASSES

    def __init__(self):
        self.calls = 0

    def predict_proba(self, crops):
        self.calls += 1
        probs = np.full((len(crops), len(CLASSES)), 0.02, dtype=np.float32)
        for i, crop in enumerate(crops):
            probs[i, CLASSES.index("happy" if crop.mean() > 128 else "sad")] = 0.88
        return probs


def write_video(path, segments, size=(160, 120)):
    """segments: list of (kind, seconds) with kind in 'none', 'bright', 'dark'."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, size)
    for kind, seconds in segments:
        for i in range(int(seconds * FPS)):
            frame = np.full((size[1], size[0], 3), 128, np.uint8)
            if kind != "none":
                x = 40 + (i % 5)  # a little movement for the tracker
                frame[30:90, x : x + 60] = 240 if kind == "bright" else 15
            writer.write(frame)
    writer.release()
    return path


OPTIONS = AnalysisOptions(blinks=False, gaze=False, touches=False, batch_frames=7, ema_alpha=1.0)
ANALYSIS = AnalysisModel(model="brightness", model_classes=CLASSES, detector="square", options={}, sample_fps=None,
                         frames_analysed=70, seconds=1.0, processing_fps=70.0, emoscope_version="test")


def analyze(path, tmp_path, options=OPTIONS, **kwargs):
    predictor = BrightnessClassifier()
    output = analyze_video(path, predictor, tmp_path / "out", options, detector=SquareDetector(), **kwargs)
    return output, predictor


def test_report_matches_the_constructed_video(tmp_path):
    video = write_video(tmp_path / "v.mp4", [("none", 2), ("bright", 4), ("dark", 2), ("bright", 2)])
    output, predictor = analyze(video, tmp_path, report_options=ReportOptions(parts=10, min_episode_s=0.5))
    report = output.report
    assert report.analysis.frames_analysed == 100
    assert predictor.calls == 13  # windows of 7 frames that hold a face (frames 14-99), not one call per face
    assert report.face_visible_share == pytest.approx(0.8)
    assert report.first_face_s == pytest.approx(2.0)
    (person,) = report.people
    assert person.frames == 80
    assert person.dominant_emotion == "happy"
    assert person.time_share["happy"] == pytest.approx(0.75) and person.time_share["sad"] == pytest.approx(0.25)
    assert person.parts == [None, None, "happy", "happy", "happy", "happy", "sad", "sad", "happy", "happy"]
    assert [i.dominant for i in person.intervals] == [None, "happy", "happy", "sad", "happy"]
    assert person.episodes == 3 and person.distinct_emotions == 2
    assert person.longest_episode.label == "happy" and person.longest_episode.duration == pytest.approx(4.0)
    assert person.shortest_episode.start == pytest.approx(6.0)
    assert (person.transitions.soft, person.transitions.hard) == (0, 2)
    assert person.transitions.hard_per_minute == pytest.approx(2 / (8 / 60))
    assert person.response.first_visible_s == pytest.approx(2.0)
    assert person.response.first_expression == "happy"
    assert person.blinks is None and person.touches is None and person.gaze_share is None

    saved = json.loads(output.json_path.read_text())
    assert saved["schema_version"] == 1 and saved["people"][0]["track_id"] == person.track_id
    html = output.html_path.read_text()
    assert html.count("data:image/png;base64,") == 3 and "happy" in html
    assert "Article 5(1)(f)" in html and "not a verdict" in html  # the lawful-use notice, where users decide
    rows = output.frames_path.read_text().splitlines()
    assert len(rows) == 1 + 100  # header, one row per frame (no face -> an empty row)


def test_parquet_frame_table_holds_the_csv_rows(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    video = write_video(tmp_path / "v.mp4", [("none", 1), ("bright", 2), ("dark", 2)])
    predictor = BrightnessClassifier()
    tables = {fmt: analyze_video(video, predictor, tmp_path / fmt, OPTIONS, detector=SquareDetector(),
                                 frames_format=fmt).frames_path for fmt in ("csv", "parquet")}
    assert tables["parquet"].suffix == ".parquet"
    csv_rows, parquet_rows = pd.read_csv(tables["csv"]), pd.read_parquet(tables["parquet"])
    assert list(parquet_rows.columns) == list(csv_rows.columns) and len(parquet_rows) == len(csv_rows) == 50
    assert parquet_rows["track"].isna().sum() == 10  # the faceless second
    assert (parquet_rows["label"].dropna() == csv_rows["label"].dropna()).all()
    assert parquet_rows["p_happy"].to_numpy() == pytest.approx(csv_rows["p_happy"].to_numpy(), abs=1e-4, nan_ok=True)


def test_sampling_keeps_about_the_requested_rate(tmp_path):
    video = write_video(tmp_path / "v.mp4", [("bright", 4)])
    output, _ = analyze(video, tmp_path, sample_fps=2.5)
    assert output.report.analysis.frames_analysed == 10
    assert output.report.people[0].visible_seconds == pytest.approx(4.0)


def test_no_face_video_gives_an_empty_report_with_a_note(tmp_path):
    video = write_video(tmp_path / "v.mp4", [("none", 2)])
    output, _ = analyze(video, tmp_path, metadata={"candidate": "c-17"})
    report = output.report
    assert report.people == [] and report.face_visible_share == 0 and report.first_face_s is None
    assert any("no face" in note for note in report.notes)
    assert report.metadata == {"candidate": "c-17"}
    assert "No person was found" in output.html_path.read_text()


def test_short_false_detections_are_dropped(tmp_path):
    video = write_video(tmp_path / "v.mp4", [("none", 2), ("dark", 0.3), ("none", 2)])
    report = analyze(video, tmp_path)[0].report
    assert report.people == [] and report.face_visible_share == 0
    assert any("spurious" in note for note in report.notes)


def test_annotated_video_has_every_analysed_frame(tmp_path):
    video = write_video(tmp_path / "v.mp4", [("bright", 1.5)])
    output, _ = analyze(video, tmp_path, annotate=True)
    capture = cv2.VideoCapture(str(output.annotated_path))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 15


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 100])
def test_bad_videos_are_one_line_errors(tmp_path, content):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(DataError, match="bad.mp4"):
        analyze(path, tmp_path)


def test_truncated_video_keeps_what_could_be_decoded_or_fails_cleanly(tmp_path):
    video = write_video(tmp_path / "v.mp4", [("bright", 3)])
    data = video.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    try:
        report = analyze(cut, tmp_path)[0].report
    except DataError as exc:
        assert "cut.mp4" in str(exc)
    else:
        assert report.analysis.frames_analysed < 30


def test_missing_video(tmp_path):
    with pytest.raises(DataError, match="not found"):
        analyze(tmp_path / "nope.mp4", tmp_path)


def test_panic_episodes_and_crowd_alerts(tmp_path):
    """Dark squares read as sad; with sad as the panic class, the dark stretch is one panic episode."""
    video = write_video(tmp_path / "v.mp4", [("bright", 2), ("dark", 3), ("bright", 2)])
    alerts = []
    options = OPTIONS.model_copy(update={"panic": True, "panic_classes": ["sad"], "panic_threshold": 0.5,
                                         "panic_enter_frames": 5, "panic_exit_frames": 3, "crowd_level": 1.0})
    from emoscope.video.pipeline import FrameAnalyzer
    from emoscope.video.source import VideoSource

    analyzer = FrameAnalyzer(BrightnessClassifier(), options, detector=SquareDetector())
    from emoscope.report.builder import ReportBuilder

    builder = ReportBuilder(CLASSES, frame_dt=1 / FPS, cues=analyzer.cues)
    with VideoSource(video) as source:
        for result in analyzer.run(source):
            builder.add(result)
            alerts.extend(result.events)
    (person,) = builder.build(VideoModel(source=str(video), fps=FPS, frame_count=70, duration=7.0, width=160,
                                         height=120), ANALYSIS).people
    assert person.panic.count == 1
    (start, end), = person.panic.episodes
    assert start == pytest.approx(2.0) and end == pytest.approx(5.0)
    assert person.panic.max_score == pytest.approx(0.88)
    # one face, all of it in panic: one alert when the episode is confirmed, then the cooldown
    assert len(alerts) == 1 and alerts[0]["time"] == pytest.approx(2.4) and alerts[0]["share"] == 1.0
    assert builder.crowd_alerts == alerts


def test_alert_sender_posts_json_without_blocking(tmp_path):
    import http.server
    import threading

    from emoscope.video.sinks import AlertSink

    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sender = AlertSink(f"http://127.0.0.1:{server.server_port}/hook", timeout=2)
    sender.send({"event": "crowd_panic", "share": 0.5})
    sender.close()
    server.shutdown()
    assert received == [{"event": "crowd_panic", "share": 0.5}] and sender.delivered == 1

    dead = AlertSink("http://127.0.0.1:9/nothing-listens", timeout=0.5)
    dead.send({"event": "x"})
    dead.close()
    assert dead.failed == 1
    with pytest.raises(Exception, match="http"):
        AlertSink("ftp://example.org")


def test_a_detector_passed_in_stays_open_for_its_owner(tmp_path):
    video = write_video(tmp_path / "v.mp4", [("bright", 1)])
    detector = SquareDetector()
    for _ in range(2):  # the same instance serves two videos
        output = analyze_video(video, BrightnessClassifier(), tmp_path / "out", OPTIONS, detector=detector)
        assert output.report.people and not detector.closed


def test_the_first_expression_skips_a_calm_label(tmp_path):
    """A calm/panic model: calm is its "no expression" label, as neutral is for expression models."""

    class CalmOrPanic(BrightnessClassifier):
        classes = ["calm", "panic"]
        spec = ModelSpec(name="calm-panic", architecture="none", label_set="panic", classes=classes)

        def predict_proba(self, crops):
            return np.array([[0.9, 0.1] if crop.mean() > 128 else [0.1, 0.9] for crop in crops], np.float32)

    video = write_video(tmp_path / "v.mp4", [("bright", 2), ("dark", 2)])
    output = analyze_video(video, CalmOrPanic(), tmp_path / "out", OPTIONS, detector=SquareDetector())
    (person,) = output.report.people
    assert person.response.first_expression == "panic"
    assert person.response.first_expression_s == pytest.approx(2.0)


def test_a_batch_keeps_going_past_a_bad_video_and_writes_the_summary(tmp_path, monkeypatch):
    from emoscope.jobs.batch import BatchItem, BatchJob, run_batch
    from emoscope.faces import registry

    monkeypatch.setitem(registry._REGISTRY, "square", registry.DetectorEntry("square", lambda **_: SquareDetector(),
                                                                             "test double"))
    good = write_video(tmp_path / "good.mp4", [("bright", 1.5)])
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    job = BatchJob(out_dir=tmp_path / "out", model="brightness", options=OPTIONS.model_copy(update={"detector": "square"}))
    done, failed = [], []

    def on_item(item, result):
        (failed if result.row["status"] == "error" else done).append((Path(item.path), result.reused))

    items = [BatchItem(str(good), "video", "good"), BatchItem(str(bad), "video", "bad")]
    rows = [r.row for r in run_batch(items, job, on_item=on_item, predictor=BrightnessClassifier())]
    assert [row["status"] for row in rows] == ["ok", "error"] and done == [(good, False)] and failed == [(bad, False)]
    assert (tmp_path / "out" / "summary.csv").read_text().count("\n") == 3  # header and two rows
    again = run_batch(items[:1], replace(job, resume=True), on_item=on_item, predictor=BrightnessClassifier())
    assert again[0].row["status"] == "ok" and done[-1] == (good, True)
