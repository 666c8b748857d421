"""Method registry: built-ins, submission folders, entry-point plugins, helpful errors."""

from __future__ import annotations

import sys
import textwrap

import pytest

from benchmark.adapter import Method, ProposalMethod
from benchmark.errors import UnknownNameError
from benchmark.registry import MethodLoadError, available_methods, find_method


def test_builtins_listed_without_importing_models():
    sys.modules.pop("baselines.arbg", None)
    names = available_methods()
    assert {"md", "arbg"} <= set(names)
    assert "baselines.arbg" not in sys.modules


def test_md_loads():
    cls = find_method("md").load()
    assert issubclass(cls, Method) and cls.name == "md"


def test_example_submission_folder_loads():
    spec = find_method("submissions/example_gaussian")
    assert spec.source == "folder" and spec.name == "example-gaussian"
    cls = spec.load()
    assert issubclass(cls, ProposalMethod)
    assert spec.info["config"]["sigma_nm"] == 0.01


def test_typo_suggests_nearest():
    with pytest.raises(UnknownNameError) as err:
        find_method("mdd")
    assert "md" in err.value.suggestions


def test_bad_folder_messages(tmp_path):
    with pytest.raises(MethodLoadError, match="no submission.yaml"):
        find_method(str(tmp_path))
    (tmp_path / "submission.yaml").write_text("name: x\nentry: adapter:Nope\nauthors: [a]\ndescription: d\n")
    (tmp_path / "adapter.py").write_text("X = 1\n")
    with pytest.raises(MethodLoadError, match="defines no 'Nope'"):
        find_method(str(tmp_path)).load()
    with pytest.raises(MethodLoadError, match="does not exist"):
        find_method("./no/such/folder")


def test_entry_point_plugin(tmp_path, monkeypatch):
    """A pip-installed plugin is found through the bgbench.methods entry-point group."""
    (tmp_path / "bgbench_toy_plugin.py").write_text(textwrap.dedent("""
        from benchmark.adapter import Method, Samples
        class ToyMethod(Method):
            name = "toy-plugin"
            def sample(self, system, energy, ctx):
                raise NotImplementedError
    """))
    dist = tmp_path / "bgbench_toy_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bgbench-toy-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[bgbench.methods]\ntoy-plugin = bgbench_toy_plugin:ToyMethod\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = find_method("toy-plugin")
    assert spec.source == "plugin"
    assert spec.load().name == "toy-plugin"
