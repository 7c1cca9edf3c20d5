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
