"""Config files that extend others: merge order, the repo's own configs, and one-line refusals."""

from pathlib import Path

import pytest

from emoscope.errors import EmoscopeError
from emoscope.runtime.config_file import read_config_file
from emoscope.training.config import TrainConfig

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_own_options_win_and_tables_merge_key_by_key(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "aug.toml").write_text("epochs = 9\n[augment]\nhflip = 0.5\nrotate = 10.0\n")
    (tmp_path / "more.json").write_text('{"augment": {"noise": 0.2, "rotate": 12.0}, "lr": 0.1}')
    (tmp_path / "run.toml").write_text(
        'extends = ["shared/aug.toml", "more.json"]\nmodel = "fer_fast_net"\nepochs = 3\n[augment]\nrotate = 20.0\n')
    options = read_config_file(tmp_path / "run.toml")
    assert options == {"model": "fer_fast_net", "epochs": 3, "lr": 0.1,
                       "augment": {"hflip": 0.5, "rotate": 20.0, "noise": 0.2}}
    cfg = TrainConfig.from_file(tmp_path / "run.toml")
    assert cfg.augment.rotate == 20.0 and cfg.augment.hflip == 0.5 and cfg.augment.noise == 0.2


def test_bases_nest_relative_to_the_file_that_names_them(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "root.toml").write_text("seed = 7\n")
    (tmp_path / "a" / "mid.toml").write_text('extends = "root.toml"\nepochs = 2\n')
    (tmp_path / "run.toml").write_text('extends = "a/mid.toml"\nmodel = "fer_fast_net"\n')
    assert read_config_file(tmp_path / "run.toml") == {"seed": 7, "epochs": 2, "model": "fer_fast_net"}


@pytest.mark.parametrize("files, fragment", [
    ({"run.toml": 'extends = "missing.toml"\n'}, "extends missing.toml, which is not a file"),
    ({"run.toml": 'extends = "b.toml"\n', "b.toml": 'extends = "run.toml"\n'}, "config extends itself"),
    ({"run.toml": 'extends = "run.toml"\n'}, "config extends itself"),
    ({"run.toml": "extends = 3\n"}, "must be a path or a list of paths"),
    ({"run.toml": 'extends = "b.toml"\n', "b.toml": "epochs = \n"}, "b.toml: cannot parse config"),
], ids=["missing", "cycle", "self", "not-a-path", "broken-base"])
def test_bad_extends_is_one_line_naming_the_file(tmp_path, files, fragment):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(EmoscopeError, match=fragment) as refusal:
        read_config_file(tmp_path / "run.toml")
    assert "\n" not in str(refusal.value)


def test_every_stage_2_config_takes_the_shared_camera_augmentations():
    shared = read_config_file(CONFIGS / "camera-augment.toml")["augment"]
    for path in sorted(CONFIGS.glob("*-robust.toml")):
        augment = TrainConfig.from_file(path).augment
        assert augment.noise == shared["noise"] and augment.jpeg == shared["jpeg"], path.name
        assert augment.blur_sigma == shared["blur_sigma"] and augment.occlude == shared["occlude"], path.name
    best = TrainConfig.from_file(CONFIGS / "fer-best-robust.toml").augment
    assert (best.scale, best.erasing) == (0.2, 0.3)  # its own override of the shared block
