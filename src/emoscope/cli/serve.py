"""`emoscope serve`: the analysts' web app (dashboard and REST API) under uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from emoscope.cli.options import DETECTOR_HELP, DETECTORS, check_choice, console, positive
from emoscope.video.sinks import FRAME_TABLE_FORMATS, check_frame_table_format

app = typer.Typer()


# Parameters are named like the fields of emoscope.web.settings.Settings they fill, so a value the
# settings refuse is reported under its flag (see emoscope.cli.options).
@app.command("serve")
def serve_cmd(
    host: str = typer.Option("127.0.0.1", help="address to listen on; anything but loopback needs --token"),
    port: int = typer.Option(8000, min=0, max=65535),
    data_dir: Path = typer.Option(Path("emoscope-data"), help="the database (SQLite), reports and uploads"),
    database_url: Optional[str] = typer.Option(None, help="e.g. postgresql://user@host/db (default: SQLite in "
                                               "--data-dir)"),
    workers: int = typer.Option(1, min=1, max=64, help="video analyses at once, one process (or Ray task) each"),
    engine: str = typer.Option("local", help="local (worker processes) | ray (Ray tasks; the `ray` extra)"),
    ray_address: Optional[str] = typer.Option(None, "--address", help="with --engine ray: auto | "
                                              "ray://HOST:10001 (default: start a local Ray)"),
    token: Optional[str] = typer.Option(None, envvar="EMOSCOPE_TOKEN",
                                        help="a service token for scripts, acting as an admin (Authorization: "
                                        "Bearer TOKEN); needed beyond loopback"),
    keep_videos: bool = typer.Option(False, help="keep uploaded videos after analysis"),
    retention_days: Optional[float] = typer.Option(None, callback=positive,
                                                   help="delete interviews older than this many days"),
    max_queue: int = typer.Option(8, min=1, help="jobs that may wait; more answer 429"),
    max_video_mib: float = typer.Option(2048, callback=positive, help="upload limit for a video (MiB)"),
    max_image_mib: float = typer.Option(20, callback=positive, help="upload limit for a photo (MiB)"),
    video_model: Optional[str] = typer.Option(None, "--model", help="default model for videos (default: fastest "
                                              "shipped)"),
    detector: str = typer.Option("mediapipe", help=DETECTOR_HELP),
    blendshapes: bool = typer.Option(False, help="add the 52 facial blendshape scores to every video's report "
                                     "(docs/blendshapes.md)"),
    sample_fps: Optional[float] = typer.Option(None, "--fps", callback=positive,
                                               help="analyse about this many frames per second"),
    max_seconds: Optional[float] = typer.Option(None, callback=positive,
                                                help="analyse at most this much of each video"),
    frames_format: str = typer.Option("csv", "--frames", help=f"per-frame table: {' | '.join(FRAME_TABLE_FORMATS)}"),
):
    """Serve the dashboard and the REST API: upload interviews, follow their analysis, read reports."""
    import uvicorn

    from emoscope.jobs.batch import ENGINES
    from emoscope.web.app import create_app
    from emoscope.web.images import check_model
    from emoscope.web.settings import MiB, Settings

    check_choice(engine, ENGINES, "engine")
    check_choice(detector, DETECTORS, "face detector")
    check_frame_table_format(frames_format)
    if video_model is not None:
        check_model(video_model)
    settings = Settings(data_dir=data_dir, database_url=database_url, host=host, workers=workers, token=token,
                        keep_videos=keep_videos, retention_days=retention_days, max_queue=max_queue,
                        max_video_bytes=int(max_video_mib * MiB), max_image_bytes=int(max_image_mib * MiB),
                        video_model=video_model, detector=detector, blendshapes=blendshapes, sample_fps=sample_fps,
                        max_seconds=max_seconds, frames_format=frames_format, engine=engine,
                        ray_address=ray_address)
    web_app = create_app(settings)
    if engine == "ray":
        from emoscope.web.ray_jobs import connect

        connect(ray_address, workers)  # here, so a bad address is one error line, not a failed startup
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    if web_app.state.setup_code is not None:  # no admin yet: a one-time link to make the first
        address = f"http://{shown}:{port}/setup?code={web_app.state.setup_code}"
        console.print(f"emoscope serve: no admin yet; set the first admin's password (once) at {address}",
                      soft_wrap=True, markup=False, highlight=False)
    else:
        console.print(f"emoscope serve: http://{shown}:{port}/login", soft_wrap=True, markup=False, highlight=False)
    console.print(f"data: {settings.data_dir.absolute()}  database: {settings.url.split('@')[-1]}",
                  soft_wrap=True, markup=False, highlight=False)
    uvicorn.run(web_app, host=host, port=port, log_level="warning")
