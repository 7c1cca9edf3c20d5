"""Detection spread over several detector instances gives the same frames as one instance."""

import threading
from pathlib import Path

import pytest

import emoscope
from emoscope.video.pipeline import AnalysisOptions, FrameAnalyzer
from emoscope.video.source import VideoSource
from emoscope.video.workers import RoundRobinWorkers

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "WolfgangLanger_Pexels.mp4"


class Recorder:
    def __init__(self):
        self.seen, self.threads, self.closed = [], set(), False

    def close(self):
        self.closed = True


def test_round_robin_alternates_instances_each_on_its_own_thread():
    recorders = [Recorder(), Recorder()]
    workers = RoundRobinWorkers(recorders, "test")

    def work(recorder, k):
        recorder.seen.append(k)
        recorder.threads.add(threading.get_ident())
        return k * k

    assert [f.result() for f in [workers.submit(work, k) for k in range(6)]] == [0, 1, 4, 9, 16, 25]
    workers.close()
    assert recorders[0].seen == [0, 2, 4] and recorders[1].seen == [1, 3, 5]
    assert len(recorders[0].threads | recorders[1].threads) == 2
    assert all(r.closed for r in recorders)


@pytest.mark.parametrize("full", [False, True])
def test_two_detector_workers_match_one(full):
    pytest.importorskip("mediapipe")
    predictor = emoscope.load("fer-fast")
    outputs = []
    for workers in (1, 2):
        options = AnalysisOptions(detect_workers=workers, blinks=full, gaze=full, touches=full)
        analyzer = FrameAnalyzer(predictor, options)
        with VideoSource(SAMPLE, max_seconds=4) as source:
            outputs.append([(r.frame.index, [(face.track_id, face.box.round(2).tolist(), face.probs.round(4).tolist(),
                                        face.data.get("ear"), face.data.get("gaze"), face.data.get("touching"))
                                       for face in r.faces])
                            for r in analyzer.run(source)])
        analyzer.close()
    assert len(outputs[0]) > 50 and sum(len(faces) for _, faces in outputs[0]) > 50
    assert outputs[0] == outputs[1]


def test_framing_views_classify_the_same_faces_from_three_crops_each():
    """The video loop with framing views: the same detections and tracks, each face's probabilities the
    mean over its three zooms, and the crop it keeps is the 1.0x one."""
    pytest.importorskip("mediapipe")
    import numpy as np

    from emoscope.faces import FRAMING_VIEWS, crop_faces

    predictor = emoscope.load("fer-fast")
    runs = {}
    for views in (False, True):
        analyzer = FrameAnalyzer(predictor, AnalysisOptions(blinks=False, gaze=False, touches=False, framing_views=views))
        with VideoSource(SAMPLE, max_seconds=1) as source:
            runs[views] = [(r.frame, r.faces) for r in analyzer.run(source)]
        analyzer.close()
    assert len(runs[True]) == len(runs[False]) > 10
    changed = 0
    for (frame, single), (_, viewed) in zip(runs[False], runs[True]):
        assert [(f.track_id, f.box.tolist()) for f in single] == [(f.track_id, f.box.tolist()) for f in viewed]
        for one, three in zip(single, viewed):
            assert np.array_equal(one.crop, three.crop)
            changed += not np.allclose(one.probs, three.probs, atol=1e-3)
    assert changed > 0
    # one face checked against the mean of the model on its three crops
    frame, (face, *_) = runs[True][0]
    with emoscope.faces.create_detector("mediapipe") as detector:
        detections = detector.detect(frame.image)
    crops = crop_faces(frame.image, detections.select([0]), predictor.spec, zooms=FRAMING_VIEWS)
    assert np.abs(predictor.predict_proba(crops).mean(0) - face.probs).max() < 1e-3
