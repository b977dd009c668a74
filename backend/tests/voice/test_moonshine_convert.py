"""Moonshine's one-time conversion: cached, reused, and done once by concurrent processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from src.voice_pipeline import moonshine_convert

pytestmark = pytest.mark.once
BACKEND_DIR = Path(__file__).resolve().parents[2]
STALE = "moonshine-base-en-r0_moonshine-cpp-0.1.3_onnxruntime-1.20.0_onnx-1.17.0"
# Each process prints how many conversions it ran.
CONVERT = (
    "import sys; from pathlib import Path; from src.voice_pipeline import moonshine_convert as m; "
    "m.ensure_converted(Path(sys.argv[1])); print(m.conversions)"
)


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh cache that two processes started at the same time both asked to fill."""
    cache = tmp_path_factory.mktemp("models")
    # What an older recipe or package version left, and something else that shares the folder.
    (cache / STALE).mkdir()
    (cache / STALE / moonshine_convert.ENCODER).write_bytes(b"old")
    (cache / f"{STALE}.lock").touch()
    (cache / "another-model").mkdir()
    env = {**os.environ, "PYTHONPATH": str(BACKEND_DIR)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CONVERT, str(cache)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(2)
    ]
    counts = [int(p.communicate(timeout=300)[0].strip().splitlines()[-1]) for p in processes]
    assert all(p.returncode == 0 for p in processes)
    # One converted; the other waited for the lock and found the result.
    assert sorted(counts) == [0, 1]
    return cache


def test_the_cache_holds_every_file_under_the_versions_key(converted: Path) -> None:
    folder = converted / moonshine_convert.cache_key()
    assert moonshine_convert.is_converted(converted)
    assert "moonshine-cpp-0.1.4" in folder.name
    assert {p.name for p in folder.iterdir()} == set(moonshine_convert.FILES)
    # Nothing half-written is left beside it.
    assert [p.name for p in converted.iterdir() if p.name.startswith(".converting-")] == []


def test_a_conversion_removes_older_results_only(converted: Path) -> None:
    names = {p.name for p in converted.iterdir()}
    assert STALE not in names
    assert f"{STALE}.lock" not in names
    assert "another-model" in names
    assert moonshine_convert.cache_key() in names


def test_a_second_call_reuses_the_cache(converted: Path) -> None:
    folder = converted / moonshine_convert.cache_key()
    mtimes = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    before = moonshine_convert.conversions
    assert moonshine_convert.ensure_converted(converted) == folder
    assert moonshine_convert.conversions == before
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == mtimes


def test_the_converted_decoders_are_split(converted: Path) -> None:
    import onnx

    folder = converted / moonshine_convert.cache_key()
    for name in (moonshine_convert.DECODER_FIRST, moonshine_convert.DECODER_CACHED):
        model = onnx.load(str(folder / name), load_external_data=False)
        ops = {node.op_type for node in model.graph.node}
        assert "If" not in ops
        # Quantised: the weights are int8 and multiplied as integers.
        assert "MatMulInteger" in ops or "DynamicQuantizeMatMul" in ops
    first = onnx.load(str(folder / moonshine_convert.DECODER_FIRST), load_external_data=False)
    assert {i.name for i in first.graph.input} == {"input_ids", "encoder_hidden_states"}


def test_the_package_is_found_without_importing_it() -> None:
    assert (moonshine_convert.package_model_dir() / "encoder_model.ort").is_file()
    assert "moonshine_cpp" not in sys.modules
