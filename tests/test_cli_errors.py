"""A bad option value is one `error:` line on stderr and exit code 2, for every command, before any
model or video is opened: pydantic options models, typer ranges and the CLI's own checks alike."""

import subprocess
import sys

import pytest

from helpers import run_emoscope

MALFORMED_YAML = "model: [baseline_cnn\nepochs: 3\n"

BAD_VALUES = [
    (("analyze", "missing.mp4", "--panic-threshold", "2"), "--panic-threshold"),
    (("analyze", "missing.mp4", "--min-episode", "-1"), "--min-episode"),
    (("analyze", "missing.mp4", "--fps", "-1"), "--fps"),
    (("analyze", "missing.mp4", "--max-seconds", "-1"), "--max-seconds"),
    (("analyze", "missing.mp4", "--detector", "dlib"), "unknown face detector"),
    (("analyze", "missing.mp4", "--frames", "xml"), "unknown frame table format"),
    (("train", "{yaml}"), "line 2, column 7"),
    (("train", "--epochs", "0"), "--epochs"),
    (("train", "--set", "augment.rotate=500"), "augment.rotate"),
    (("evaluate", "fer-fast", "--tta", "bogus"), "unknown --tta"),
    (("predict", "missing.jpg", "--format", "bogus"), "unknown --format"),
    (("gesture", "missing.jpg", "--hold", "0"), "--hold"),
    (("pack", "fer2013", "--out", "x.emopack", "--bits", "9"), "--bits"),
    (("bench", "video", "missing.mp4", "--repeats", "0"), "--repeats"),
    (("panic", "cv", "--limit", "5"), "--limit"),
    (("models", "--no-such-option"), "No such option"),
    (("models", "fer_fast_net", "no_such_net"), "unknown model 'no_such_net'"),
]


@pytest.mark.parametrize("args, fragment", BAD_VALUES, ids=lambda v: " ".join(v) if isinstance(v, tuple) else None)
def test_a_bad_value_is_one_error_line_and_exit_2(args, fragment, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(MALFORMED_YAML)
    run = run_emoscope(*(str(a).format(yaml=config) for a in args), cwd=tmp_path, timeout=120)
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], run.stderr


@pytest.mark.parametrize("args", [("train", "--epochs", "0"), ("analyze", "missing.mp4", "--fps", "-1"), ("--help",)],
                         ids=" ".join)
def test_a_refusal_or_the_help_imports_neither_torch_nor_pandas(args):
    """Each takes about a second to import; a user who mistyped a flag should not wait for them."""
    code = ("import sys\nfrom emoscope.cli.main import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n"
            "    pass\nprint(sorted({'torch', 'pandas'} & set(sys.modules)), file=sys.stderr)")
    run = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
    assert run.stderr.strip().splitlines()[-1] == "[]", run.stderr
