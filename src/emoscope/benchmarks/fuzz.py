"""`emoscope bench fuzz`: a mutation fuzz of the inputs ``analyze`` and ``predict`` read. Copies of a short
clip and of photos get seeded damage (byte flips, truncation, a damaged header, a zeroed or repeated
block) and go through the same per-item functions as ``emoscope analyze`` on either engine
(:func:`~emoscope.jobs.batch_items.video_result`, :func:`~emoscope.jobs.batch_items.image_results`,
whose photos are read by ``emoscope predict``'s code).

What must hold for every case: no exception but :class:`EmoscopeError` (a crash), no case past
``time_limit_s`` (a hang), and every result complete, ``partial`` with its note, or an ``error`` row of
one line with an exit code of the documented set; an ``ok`` or ``partial`` row has its report, and no
temporary file is left in the output folder.

The cases run in a child process that the parent watches: a case that runs past its time limit is
recorded as a hang, the child is killed and a new one takes the rest. Case ``i`` of seed ``s`` is the
same damage on every machine (``numpy.random.default_rng([s, i])``), so a finding is reproduced by its
seed and index alone.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import shutil
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from emoscope.benchmarks.tables import markdown_table
from emoscope.errors import EXIT_OUTPUT_FAILED, EXIT_PARTIAL, EmoscopeError

MUTATIONS = ("flip", "truncate", "header", "zero_block", "repeat_block")
"""flip: 1-64 random bytes set to random values; truncate: cut at a random point (1-99%); header: the
first 16-4096 bytes made random; zero_block: a run of 1-10% of the file zeroed; repeat_block: a run of
the file copied over another place (a damaged container's index or a re-sent network packet)."""

DOCUMENTED_ERROR_CODES = {2, EXIT_OUTPUT_FAILED, EXIT_PARTIAL}
"""The exit codes an item's error row may carry (emoscope.errors; 0 and 130 belong to whole runs)."""

CLIP_SECONDS = 2.0


@dataclass
class FuzzCase:
    index: int
    kind: str  # "video" or "image"
    base: str  # the undamaged file's name
    mutation: str
    detail: str  # where and how much, to read a finding without rerunning it


@dataclass
class FuzzOutcome:
    case: FuzzCase
    status: str  # ok / partial / error (the item's row), or crash / hang / invalid (a defect)
    seconds: float
    message: str = ""  # the row's error or note; a crash's traceback; what made it invalid


def short_clip(source: Path, out: Path, seconds: float = CLIP_SECONDS) -> Path:
    """The first ``seconds`` of ``source`` re-encoded with OpenCV (mp4v): the fuzz's base video. A source
    that is not a video is one :class:`~emoscope.errors.DataError` line."""
    import cv2

    from emoscope.video.source import VideoSource

    writer = None
    with VideoSource(source, prefetch=0) as video:
        for frame in itertools.islice(video, max(1, round(seconds * video.info.fps))):
            if writer is None:
                writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), video.info.fps,
                                         frame.image.shape[1::-1])
            writer.write(frame.image)
    if writer is None:
        raise EmoscopeError(f"{source}: no frame to make the fuzz's clip from")
    writer.release()
    return out


def mutate(data: bytes, rng: np.random.Generator) -> tuple[bytes, str, str]:
    """``data`` damaged by one of :data:`MUTATIONS` chosen by ``rng``: (bytes, mutation, detail)."""
    buffer = bytearray(data)
    size = len(buffer)
    mutation = MUTATIONS[int(rng.integers(len(MUTATIONS)))]
    if mutation == "flip":
        places = rng.integers(0, size, int(rng.integers(1, 65)))
        for place in places:
            buffer[int(place)] = int(rng.integers(256))
        return bytes(buffer), mutation, f"{len(places)} bytes"
    if mutation == "truncate":
        cut = int(size * rng.uniform(0.01, 0.99))
        return bytes(buffer[:cut]), mutation, f"kept {cut} of {size} bytes"
    if mutation == "header":
        length = min(size, int(rng.integers(16, 4097)))
        buffer[:length] = rng.integers(0, 256, length, dtype=np.uint8).tobytes()
        return bytes(buffer), mutation, f"first {length} bytes random"
    length = max(1, int(size * rng.uniform(0.01, 0.10)))
    start = int(rng.integers(0, size - length + 1))
    if mutation == "zero_block":
        buffer[start:start + length] = bytes(length)
        return bytes(buffer), mutation, f"{length} bytes zeroed at {start}"
    origin = int(rng.integers(0, size - length + 1))
    buffer[start:start + length] = data[origin:origin + length]
    return bytes(buffer), mutation, f"{length} bytes from {origin} copied to {start}"


def base_files(clip: Path, photos: list[Path], folder: Path, clip_seconds: float = CLIP_SECONDS
               ) -> list[tuple[str, Path]]:
    """The undamaged inputs: the clip cut to ``clip_seconds`` and the photos, each as (kind, path)."""
    folder.mkdir(parents=True, exist_ok=True)
    bases = [("video", short_clip(clip, folder / f"{clip.stem}-{clip_seconds:g}s.mp4", clip_seconds))]
    for photo in photos:
        copy = folder / photo.name
        shutil.copyfile(photo, copy)
        bases.append(("image", copy))
    return bases


def make_case(index: int, seed: int, bases: list[tuple[str, Path]], folder: Path) -> tuple[FuzzCase, Path]:
    """Case ``index``: every other case a video, the rest the photos in turn; damaged by its own
    generator, so any case is made again from (seed, index) alone."""
    videos = [base for base in bases if base[0] == "video"]
    photos = [base for base in bases if base[0] == "image"] or videos
    kind, base = videos[(index // 2) % len(videos)] if index % 2 == 0 else photos[(index // 2) % len(photos)]
    data, mutation, detail = mutate(base.read_bytes(), np.random.default_rng([seed, index]))
    path = folder / f"case{index:05d}{base.suffix}"
    path.write_bytes(data)
    return FuzzCase(index, kind, base.name, mutation, detail), path


# -- the child process: one case at a time ------------------------------------------------------------


def _check(kind: str, row: dict, exit_code: int, out: Path, name: str) -> tuple[str, str]:
    """(status, message) of one item's row, or ("invalid", why) when the row breaks a rule."""
    status, message = row.get("status", ""), row.get("error", "")
    leftovers = sorted(p.name for p in out.iterdir() if p.name.startswith("."))
    if leftovers:
        return "invalid", f"temporary files left: {leftovers}"
    if status == "error":
        if not message or "\n" in message or "Traceback" in message:
            return "invalid", f"error row not one line: {message!r}"
        if exit_code not in DOCUMENTED_ERROR_CODES:
            return "invalid", f"exit code {exit_code} not documented ({message})"
        return status, message
    if status not in ("ok", "partial"):
        return "invalid", f"status {status!r}"
    if status == "partial" and not message.startswith("partial"):
        return "invalid", f"partial without its note: {message!r}"
    report = out / (f"{name}.report.json" if kind == "video" else f"{name}.predictions.json")
    if not report.is_file():
        return "invalid", f"{status} without {report.name}"
    if kind == "video":
        written = json.loads(report.read_text(encoding="utf-8"))
        complete = written["completeness"]["complete"]
        if (status == "ok") != complete or written["analysis"]["frames_analysed"] < 1:
            return "invalid", f"{status} row, report completeness {complete}, " \
                              f"{written['analysis']['frames_analysed']} frames"
    return status, message


def _run_case(kind: str, path: Path, job, predictor, detector) -> tuple[str, str]:
    from emoscope.jobs.batch_items import BatchItem, image_results, video_result

    item = BatchItem(str(path), kind, path.stem)
    shutil.rmtree(job.out_dir, ignore_errors=True)
    job.out_dir.mkdir(parents=True)
    try:
        result = (video_result(item, job, predictor) if kind == "video"
                  else image_results([item], job, predictor, detector)[0])
        return _check(kind, result.row, result.exit_code, job.out_dir, item.name)
    except EmoscopeError as exc:  # raised instead of becoming the item's row: still one line, not a crash
        return ("error", str(exc)) if exc.exit_code in DOCUMENTED_ERROR_CODES else ("invalid", str(exc))
    except Exception:  # noqa: BLE001 - what the fuzz is for: any other exception is a crash
        return "crash", traceback.format_exc(limit=8)[-2000:]
    finally:
        shutil.rmtree(job.out_dir, ignore_errors=True)


def _child(connection, model: str, out_dir: str) -> None:
    from emoscope.faces import create_photo_detector
    from emoscope.jobs.batch_items import BatchJob
    from emoscope.runtime.predictor import shared_predictor

    job = BatchJob(out_dir=Path(out_dir), model=model)
    predictor = shared_predictor(model, job.backend)
    detector = create_photo_detector(job.image_detector)
    connection.send("ready")
    while (request := connection.recv()) is not None:
        kind, path = request
        connection.send(_run_case(kind, Path(path), job, predictor, detector))
    detector.close()


class _Child:
    """The process the cases run in, started again after a hang."""

    def __init__(self, model: str, out_dir: Path, start_timeout: float = 300):
        context = multiprocessing.get_context("spawn")  # no forked torch or OpenCV threads
        self.connection, child_end = context.Pipe()
        self.process = context.Process(target=_child, args=(child_end, model, str(out_dir)), daemon=True)
        self.process.start()
        child_end.close()
        if not self.connection.poll(start_timeout) or self.connection.recv() != "ready":
            self.kill()
            raise EmoscopeError(f"the fuzz's worker did not start within {start_timeout:.0f} s")

    def run(self, kind: str, path: Path, timeout: float) -> tuple[str, str] | None:
        """The case's (status, message), or None when it ran past ``timeout`` or killed the process."""
        self.connection.send((kind, str(path)))
        try:
            if self.connection.poll(timeout):
                return self.connection.recv()
        except EOFError:
            pass
        return None

    def kill(self) -> None:
        self.process.kill()
        self.process.join(10)

    def close(self) -> None:
        try:
            self.connection.send(None)
        except OSError:
            pass
        self.process.join(30)
        if self.process.is_alive():
            self.kill()


def run_fuzz(clip: Path, photos: list[Path], cases: int = 1000, seed: int = 0, model: str = "fer-fast",
             time_limit_s: float = 60.0, on_case=None, clip_seconds: float = CLIP_SECONDS) -> dict:
    """Run ``cases`` damaged copies (see the module's doc); the summary, with every defect in full."""
    if not clip.is_file():
        raise EmoscopeError(f"{clip}: no such video")
    missing = [str(photo) for photo in photos if not photo.is_file()]
    if missing:
        raise EmoscopeError(f"no such photo: {missing[0]}")
    outcomes: list[FuzzOutcome] = []
    with tempfile.TemporaryDirectory(prefix="emoscope-fuzz-") as scratch:
        folder = Path(scratch)
        bases = base_files(clip, photos, folder / "bases", clip_seconds)
        (folder / "cases").mkdir()
        child = _Child(model, folder / "out")
        started = time.perf_counter()
        try:
            for index in range(cases):
                case, path = make_case(index, seed, bases, folder / "cases")
                start = time.perf_counter()
                answer = child.run(case.kind, path, time_limit_s)
                seconds = time.perf_counter() - start
                if answer is None:
                    dead = not child.process.is_alive()
                    child.kill()
                    answer = ("crash", "the worker process died") if dead else \
                        ("hang", f"no result within {time_limit_s:g} s")
                    child = _Child(model, folder / "out")
                outcomes.append(FuzzOutcome(case, answer[0], round(seconds, 3), answer[1]))
                path.unlink()
                if on_case is not None:
                    on_case(outcomes[-1])
        finally:
            child.close()
        wall = time.perf_counter() - started
    return summarise(outcomes, seed, model, time_limit_s, wall, [name for _, name in bases], clip_seconds)


DEFECTS = ("crash", "hang", "invalid")


def summarise(outcomes: list[FuzzOutcome], seed: int, model: str, time_limit_s: float, wall: float,
              bases: list, clip_seconds: float) -> dict:
    statuses = ("ok", "partial", "error", *DEFECTS)
    table: dict[str, dict[str, int]] = {}
    for outcome in outcomes:
        for key in (f"{outcome.case.kind}: {outcome.case.mutation}", f"{outcome.case.kind}: all"):
            table.setdefault(key, dict.fromkeys(statuses, 0))[outcome.status] += 1
    seconds = np.array([outcome.seconds for outcome in outcomes] or [0.0])
    return {"cases": len(outcomes), "seed": seed, "model": model, "time_limit_s": time_limit_s,
            "bases": [Path(str(base)).name for base in bases], "clip_seconds": clip_seconds,
            "wall_s": round(wall, 1), "case_seconds": {"median": round(float(np.median(seconds)), 3),
                                                       "p95": round(float(np.percentile(seconds, 95)), 3),
                                                       "max": round(float(seconds.max()), 3)},
            "by_kind_and_mutation": dict(sorted(table.items())),
            "defects": [asdict(outcome) for outcome in outcomes if outcome.status in DEFECTS]}


def fuzz_table(results: dict) -> str:
    """The Markdown table for docs/reliability.md."""
    statuses = ("ok", "partial", "error", *DEFECTS)
    rows = [{"input: damage": f"**{key}**" if key.endswith(": all") else key, "cases": sum(counts.values())}
            | {status: counts[status] for status in statuses}
            for key, counts in results["by_kind_and_mutation"].items()]
    seconds = results["case_seconds"]
    note = (f"{results['cases']} cases, seed {results['seed']}, model {results['model']}, bases "
            f"{', '.join(results['bases'])}; a case took {seconds['median']:.2f} s (median), "
            f"{seconds['p95']:.2f} s (95th percentile), {seconds['max']:.2f} s at most (limit "
            f"{results['time_limit_s']:g} s); {results['wall_s']:.0f} s in all. Defects (crash, hang, invalid): "
            f"{len(results['defects'])}.")
    return f"{markdown_table(rows)}\n{note}\n"


def default_photos(clip: Path, folder: Path) -> list[Path]:
    """Two photos of $EMOSCOPE_DATA/media (a JPEG with a face, a PNG with alpha), else the clip's first
    frame written into ``folder`` as a JPEG."""
    from emoscope.data import data_root

    media = data_root() / "media"
    found = [media / "single_face.jpg", media / "Image_with_alpha.png"]
    if all(path.is_file() for path in found):
        return found
    import cv2

    capture = cv2.VideoCapture(str(clip))
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise EmoscopeError(f"{clip}: no frame to make the fuzz's photo from")
    folder.mkdir(parents=True, exist_ok=True)
    photo = folder / f"{clip.stem}-frame0.jpg"
    cv2.imwrite(str(photo), frame)
    return [photo]
