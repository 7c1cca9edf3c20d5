"""`emoscope bench soak`'s short version (issue 38): one minute of uploads, photo requests and report reads
against a real `emoscope serve`, with no error, and the server's memory and open files flat.

It is the work of the former two-minute version at twice the pace (an upload every 5 s instead of 10, a
photo every 0.25 s, a report read every 0.5 s, a sample every 2.5 s), so the counts asserted are the same:
the growth found so far (the job workers' malloc arenas, below) comes with the jobs run, so the same jobs
in half the time show it no less, and the server was idle much of the time at the slower pace. Measured
with the lead's suite running beside it: 12 jobs, 239 photos, 120 reads and 24 samples in 79 s, flat
(the two-minute version took 138 s).

Flat is judged as the long run judges it (emoscope.web.soak.flatness): the last quarter's median within
10 % or 50 MB (memory) and 10 descriptors (files) of the first quarter's. These tolerances are wide on
purpose: a job worker's resident memory moves by some tens of MB with the frames it last held, and a
request or job in flight holds a few files; a leak of 1 MB per job or one descriptor per request passes
them within the 30-minute run (docs/reliability.md), not within this test. The test is enough for
the growth `bench soak` first found: before the job workers' malloc arenas were capped
(emoscope.jobs.memory.MALLOC_ARENAS), a 3-minute run's server and workers grew by 298 MB."""

from __future__ import annotations

from pathlib import Path

import pytest

from emoscope.web.soak import run_soak

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "WolfgangLanger_Pexels.mp4"


@pytest.mark.slow
def test_a_minute_of_mixed_load_has_no_error_and_flat_memory_and_files():
    results = run_soak(SAMPLE, minutes=1, upload_every_s=5, photo_every_s=0.25, read_every_s=0.5,
                       sample_every_s=2.5)
    assert results["errors"] == 0, results["error_samples"]
    assert results["jobs_done"] >= 4 and results["photos"] >= 100 and results["report_reads"] >= 50, results
    assert len(results["samples"]) >= 20
    assert results["samples"][0]["processes"] >= 2  # the job worker is in the tree sampled
    for figure, values in results["flatness"].items():
        assert values["flat"], (figure, values, [sample[figure] for sample in results["samples"]])
