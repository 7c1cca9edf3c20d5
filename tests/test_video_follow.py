"""Detection on a schedule with faces followed in between (issue 39), and the loop's per-stage profile."""

from pathlib import Path

import numpy as np
import pytest

from emoscope.faces import Detections
from emoscope.video.profile import STAGES, StageProfile
from emoscope.video.tracking import DetectionSchedule, FaceFollower, scene_change

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "WolfgangLanger_Pexels.mp4"


def test_schedule_plans_every_nth_frame():
    assert [p for p in range(12) if DetectionSchedule(5).planned(p)] == [0, 5, 10]
    assert all(DetectionSchedule(1).planned(p) for p in range(12))
    with pytest.raises(ValueError):
        DetectionSchedule(0)


def textured_frame(x: int, y: int, seed: int = 0, side: int = 120, size=(360, 640)) -> np.ndarray:
    """A gray frame with a random-textured square (a stand-in for a face) at ``(x, y)``."""
    frame = np.full((*size, 3), 90, np.uint8)
    texture = np.random.default_rng(seed).integers(0, 255, (side // 4, side // 4), dtype=np.uint8)
    patch = np.kron(texture, np.ones((4, 4), np.uint8))  # blocks: corners to follow, as a face's features
    frame[y : y + side, x : x + side] = patch[:, :, None]
    return frame


def face_at(x: float, y: float, side: int = 120) -> Detections:
    keypoints = np.array([[x + 35, y + 45], [x + 85, y + 45], [x + 60, y + 70], [x + 40, y + 95], [x + 80, y + 95]])
    return Detections(np.array([[x, y, x + side, y + side]]), np.array([0.9]), keypoints[None])


def following(x: int = 200, y: int = 100) -> FaceFollower:
    """A follower after two steady detections of the face at ``(x, y)``."""
    follower = FaceFollower()
    for _ in range(2):
        follower.start(textured_frame(x, y), face_at(x, y))
    return follower


def test_follower_follows_steady_detections_only():
    follower = FaceFollower()
    follower.start(textured_frame(200, 100), face_at(200, 100))
    assert follower.follow(textured_frame(201, 100)) is None  # the first detection: the count is not yet steady
    follower.start(textured_frame(201, 100), face_at(201, 100))
    assert follower.follow(textured_frame(202, 100)) is not None
    doubtful = Detections(face_at(202, 100).boxes, [0.6], face_at(202, 100).keypoints)
    follower.start(textured_frame(202, 100), doubtful)
    assert follower.follow(textured_frame(203, 100)) is None  # a low score: the next frame is detected too
    follower.start(textured_frame(203, 100), face_at(203, 100))
    two = Detections(np.concatenate([face_at(203, 100).boxes, face_at(400, 100).boxes]), [0.9, 0.9],
                     np.concatenate([face_at(203, 100).keypoints, face_at(400, 100).keypoints]))
    follower.start(textured_frame(203, 100), two)
    assert follower.follow(textured_frame(203, 100)) is None  # a face entered: detect until the count holds


def test_follower_moves_box_and_keypoints_with_the_face():
    follower = following()
    for step in range(1, 5):
        moved = follower.follow(textured_frame(200 + 3 * step, 100 + 2 * step))
        assert moved is not None and follower.followed == 1
        np.testing.assert_allclose(moved.boxes[0], face_at(200 + 3 * step, 100 + 2 * step).boxes[0], atol=1.0)
        np.testing.assert_allclose(moved.keypoints[0], face_at(200 + 3 * step, 100 + 2 * step).keypoints[0], atol=1.0)
        assert moved.scores[0] == pytest.approx(0.9)  # the score is the last detection's


def test_follower_gives_up_on_a_scene_cut_and_until_restarted():
    follower = following()
    cut = np.full((360, 640, 3), 230, np.uint8)
    assert scene_change(textured_frame(200, 100), cut) >= follower.scene_cut_level
    assert follower.follow(cut) is None and follower.followed == 0
    assert follower.follow(textured_frame(200, 100)) is None  # nothing to follow until the next detection
    follower.start(textured_frame(200, 100), face_at(200, 100))
    assert follower.follow(textured_frame(202, 100)) is not None


def test_follower_loses_a_face_that_vanishes_or_leaves_the_frame():
    follower = following()
    other_texture = textured_frame(200, 100, seed=1)  # same place, other content: the corners do not come back
    assert follower.follow(other_texture) is None
    follower = following()
    assert follower.follow(textured_frame(0, 100)) is None  # jumped by more than its window


def test_follower_with_nothing_detected_asks_for_a_detection():
    """A face may enter an empty scene at any frame: with none followed, every frame is detected."""
    follower = FaceFollower()
    assert follower.follow(textured_frame(200, 100)) is None
    follower.start(textured_frame(200, 100), Detections.empty())
    assert follower.follow(textured_frame(200, 100)) is None


def test_profile_summary_has_every_stage_and_shares_that_add_up():
    profile = StageProfile()
    profile.add("detection", 0.3)
    profile.add("classification", 0.1)
    with profile.stage("sinks"):
        pass
    summary = profile.summary(frames=10, wall_seconds=0.5)
    assert list(summary["stages"]) == list(STAGES)
    assert set(summary["stages"]["detection"]) == {"seconds", "share", "ms_per_frame"}
    assert sum(s["share"] for s in summary["stages"].values()) == pytest.approx(1.0, abs=0.01)
    assert summary["stages"]["detection"]["ms_per_frame"] == pytest.approx(30.0)


def loop_outputs(predictor, options, seconds: float = 3.0):
    from emoscope.video.pipeline import FrameAnalyzer
    from emoscope.video.source import VideoSource

    analyzer = FrameAnalyzer(predictor, options)
    with VideoSource(SAMPLE, max_seconds=seconds) as source:
        rows = [(r.frame.index, [(f.track_id, f.box.round(3).tolist(), f.label) for f in r.faces])
                for r in analyzer.run(source)]
    analyzer.close()
    return rows, analyzer.profile.summary(len(rows), 1.0)


def test_scheduled_loop_matches_the_detector_on_planned_frames_and_repeats_itself():
    pytest.importorskip("mediapipe")
    import emoscope
    from emoscope.video.pipeline import AnalysisOptions

    predictor = emoscope.load("fer-fast")
    every_frame, profile = loop_outputs(predictor, AnalysisOptions(detect_every=1, blinks=False, gaze=False, touches=False))
    scheduled, scheduled_profile = loop_outputs(predictor, AnalysisOptions(detect_every=5, blinks=False, gaze=False,
                                                                           touches=False))
    assert scheduled == loop_outputs(predictor, AnalysisOptions(detect_every=5, blinks=False, gaze=False,
                                                                touches=False))[0]  # deterministic
    assert len(scheduled) == len(every_frame) and all(faces for _, faces in scheduled)
    for position, ((_, exact), (_, followed)) in enumerate(zip(every_frame, scheduled)):
        if position % 5 == 0:
            assert [box for _, box, _ in followed] == [box for _, box, _ in exact]
    stages = scheduled_profile["stages"]
    for stage in ("decode", "detection", "tracking", "crop", "classification"):
        assert stages[stage]["seconds"] > 0, stage
    assert stages["mesh"]["seconds"] == stages["hands"]["seconds"] == 0  # emotion-only
    assert profile["stages"]["detection"]["seconds"] > 0


@pytest.mark.slow
def test_memory_stays_flat_over_a_long_video(tmp_path):
    """The short version of `emoscope bench video --long-minutes 60`: a 2-minute synthetic video (the
    sample clip back and forth, 10 frames/s) through the whole analyze path; the resident memory may not
    grow with the frames (holding every frame would add 0.7 MB a frame, 400 MB over the second half)."""
    pytest.importorskip("mediapipe")
    import emoscope
    from emoscope.benchmarks.video_speed import bench_memory, write_long_video
    from emoscope.video.pipeline import AnalysisOptions

    video = write_long_video(tmp_path / "long.mp4", SAMPLE, seconds=120, fps=10)
    memory = bench_memory(video, emoscope.load("fer-fast"), tmp_path / "out", AnalysisOptions(), sample_fps=None,
                          every=100)
    assert memory["frames_analysed"] == 1200 and len(memory["rss_mb_samples"]) == 12
    assert memory["rss_growth_second_half_mb"] < 50
