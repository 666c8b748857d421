"""What a newcomer trips over first: method names, copied submissions, config typos, reruns."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.errors import BgbenchError
from benchmark.registry import BUILTIN_METHODS, find_method
from benchmark.runner import RunConfig, Runner

EXAMPLE = Path("submissions/example_gaussian")


def test_builtin_table_agrees_with_the_classes():
    for name, builtin in BUILTIN_METHODS.items():
        cls = find_method(name).load()
        assert (cls.name, cls.family, cls.applies_to, cls.requires_gpu) == (
            name, builtin.family, builtin.applies_to, builtin.requires_gpu)


@pytest.mark.parametrize("given", ["md", "MD", "Md"])
def test_method_names_ignore_case(given):
    assert find_method(given).name == "md"


def test_listed_submission_names_are_accepted(monkeypatch):
    assert find_method("example-gaussian").target == str(EXAMPLE)
    assert find_method("EXAMPLE-GAUSSIAN").name == "example-gaussian"


def test_file_names_use_canonical_task_and_method_names():
    runner = Runner(RunConfig(method="MD", task="aldp", tier="quick", seed=0))
    assert runner.out.name == "md-ALDP-quick-b10000-s0.json"


def test_unknown_config_key_names_the_valid_ones(capsys):
    assert main(["run", "--method", "md", "--task", "ALDP", "--config", "no_such_key=1"]) == 2
    err = capsys.readouterr().err
    assert "no_such_key" in err and "friction_per_ps" in err and "timestep_fs" in err


def _copy_example(tmp_path: Path, yaml_name: str, class_name: str) -> Path:
    folder = tmp_path / "my_method"
    shutil.copytree(EXAMPLE, folder)
    yaml = (folder / "submission.yaml").read_text().replace("name: example-gaussian", f"name: {yaml_name}")
    (folder / "submission.yaml").write_text(yaml)
    code = (folder / "adapter.py").read_text().replace('name = "example-gaussian"', f'name = "{class_name}"')
    (folder / "adapter.py").write_text(code)
    return folder


def test_a_copied_submission_must_rename_its_class(tmp_path):
    folder = _copy_example(tmp_path, "my-method", "example-gaussian")
    for isolation in ("none", "process"):  # in-process, and as the method process reports it
        with pytest.raises(BgbenchError, match="names the method 'my-method'.*example-gaussian"):
            Runner(RunConfig(method=str(folder), task="ALDP", tier="quick", isolation=isolation))


def test_a_renamed_copy_records_under_its_own_name_with_its_authors(tmp_path):
    folder = _copy_example(tmp_path, "my-method", "my-method")
    runner = Runner(RunConfig(method=str(folder), task="ALDP", tier="quick", seed=0))
    assert runner.out.name.startswith("my-method-snis-ALDP")
    record = runner._new_record()
    assert record.method["name"] == "my-method" and record.method["authors"] == ["bgbench maintainers"]
    assert record.method["config"] == {"sigma_nm": 0.01}


def test_an_existing_record_is_not_overwritten_silently(tmp_path):
    out = tmp_path / "r.json"
    out.write_text("{}")
    with pytest.raises(BgbenchError, match="--overwrite"):
        Runner(RunConfig(method="md", task="ALDP", tier="quick", out=out)).run()
