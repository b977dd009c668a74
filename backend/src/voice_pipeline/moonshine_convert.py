"""Moonshine base-en from `moonshine-cpp`'s ONNX Runtime files to fast ONNX models, once.

The package ships its weights as int8 `.ort` files that ONNX Runtime re-dequantises (Cast, Mul,
Add) and re-transposes at every decoder step (~50 ms a token, shared notes/voice-stack.md).
Converted once (written back out as ONNX and constant-folded to fp32, the merged decoder's `If`
split into a first-step model and a with-cache model, dynamic int8 quantisation of the MatMul
weights) a short question takes ~0.15 s in all (`make bench BENCH_ARGS="--only stt"`).

The conversion takes ~20 s and ~1 GB of memory, so it runs once per machine into a cache
keyed on the package versions, under a file lock: concurrent processes convert once, and the
result appears with one atomic directory rename.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import importlib.util
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

ENCODER = "encoder.onnx"
DECODER_FIRST = "decoder_first.onnx"
DECODER_CACHED = "decoder_cached.onnx"
TOKENIZER = "tokenizer.bin"
FILES = (ENCODER, DECODER_FIRST, DECODER_CACHED, TOKENIZER)
# Part of the cache key: raise it when the conversion changes, so old results are not reused.
RECIPE = 1

# How many conversions this process ran (tests check that a cached result is reused).
conversions = 0


def package_model_dir() -> Path:
    """The `models/base-en` folder of the installed `moonshine-cpp` package.

    Found without importing the package: its `__init__` loads a second libonnxruntime.

    Raises:
        FileNotFoundError: when `moonshine-cpp` is not installed.
    """
    spec = importlib.util.find_spec("moonshine_cpp")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("moonshine-cpp is not installed: pip install moonshine-cpp==0.1.4")
    return Path(spec.submodule_search_locations[0]) / "models" / "base-en"


def cache_key() -> str:
    """The versions the converted files depend on, as a folder name."""
    versions = [
        f"{name}-{importlib.metadata.version(name)}"
        for name in ("moonshine-cpp", "onnxruntime", "onnx")
    ]
    return f"moonshine-base-en-r{RECIPE}_" + "_".join(versions)


def is_converted(cache_dir: Path) -> bool:
    """Whether `cache_dir` already holds this version's converted model."""
    folder = cache_dir / cache_key()
    return all((folder / name).is_file() for name in FILES)


def ensure_converted(cache_dir: Path) -> Path:
    """The folder of the converted model under `cache_dir`, converting it first if needed.

    Blocking (~10-20 s and ~1 GB when it converts): call it off the event loop.
    """
    folder = cache_dir / cache_key()
    if is_converted(cache_dir):
        return folder
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _locked(cache_dir / f"{cache_key()}.lock"):
        # Another process may have converted while this one waited for the lock.
        if not is_converted(cache_dir):
            _convert_into(folder)
            _remove_stale(cache_dir)
    return folder


# Every cache folder of this model starts with this, whatever the recipe and versions.
_KEY_PREFIX = "moonshine-base-en-r"


def _remove_stale(cache_dir: Path) -> None:
    """Delete the results of older recipes or package versions (~220 MB each) once a new one
    exists: nothing reads them again. A process still running the old versions has its
    sessions loaded already, so the files can go."""
    current = cache_key()
    for path in cache_dir.iterdir():
        name = path.name.removesuffix(".lock")
        if not name.startswith(_KEY_PREFIX) or name == current:
            continue
        logger.warning("removing an outdated Moonshine conversion: %s", path)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _convert_into(folder: Path) -> None:
    global conversions
    logger.warning("converting Moonshine base-en (one time, ~20 s) into %s", folder)
    started = time.perf_counter()
    source = package_model_dir()
    work = Path(tempfile.mkdtemp(prefix=".converting-", dir=folder.parent))
    quiet = _QuietQuantiser()
    logging.getLogger().addFilter(quiet)
    try:
        _encoder(source / "encoder_model.ort", work)
        _decoders(source / "decoder_model_merged.ort", work)
        shutil.copyfile(source / TOKENIZER, work / TOKENIZER)
        for leftover in work.glob("*.tmp.onnx"):
            leftover.unlink()
        work.chmod(0o755)  # mkdtemp's folder is private; other users of the machine may read
        if folder.exists():  # incomplete: a file was deleted by hand
            shutil.rmtree(folder)
        os.rename(work, folder)  # atomic: readers see all the files or none
    finally:
        logging.getLogger().removeFilter(quiet)
        shutil.rmtree(work, ignore_errors=True)
    conversions += 1
    logger.warning("Moonshine converted in %.1f s", time.perf_counter() - started)


class _QuietQuantiser(logging.Filter):
    """Drops the quantiser's ~200 lines a model on the root logger (its errors still pass).

    A filter on the root logger sees only records logged on it directly, as the quantiser's
    `logging.info(...)` calls are, not those of the app's named loggers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or "quantization" not in record.pathname


def _encoder(ort_file: Path, work: Path) -> None:
    unfolded, folded = work / "encoder.1.tmp.onnx", work / "encoder.2.tmp.onnx"
    _optimise(ort_file, unfolded)
    # Read from ORT format the model is left as it was; a second pass on ONNX folds it.
    _optimise(unfolded, folded)
    _quantise(folded, work / ENCODER)


def _decoders(ort_file: Path, work: Path) -> None:
    import onnx

    merged = work / "decoder.tmp.onnx"
    _optimise(ort_file, merged)
    model = onnx.load(str(merged))
    for branch, name in (("else_branch", DECODER_FIRST), ("then_branch", DECODER_CACHED)):
        split, folded = work / f"{name}.1.tmp.onnx", work / f"{name}.2.tmp.onnx"
        onnx.save(_branch_model(model, branch), str(split))
        _optimise(split, folded)
        _quantise(folded, work / name)
    del model


def _optimise(source: Path, target: Path) -> None:
    """Write `source` back out as ONNX after ONNX Runtime's basic (constant-folding) pass."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(target)
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])


def _quantise(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # MatMul only: the quantiser's default also takes the encoder's convolutions and the
    # embedding; on the bench's questions that was no more accurate (neither was fp32) and
    # slower (median 189 ms against 162 ms a question, fp32 231 ms, measured interleaved).
    quantize_dynamic(source, target, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])


def _branch_model(merged: Any, branch: str) -> Any:
    """One branch of the merged decoder's top-level `If` as a model of its own.

    `then_branch` runs with the key/value cache, `else_branch` is the first step. A branch reads
    names from the outer graph (its inputs, the dequantised weights): those are carried over and
    everything the branch does not use is left out. (Moonshine's branches hold no nested
    subgraphs, and name their outputs as the `If` does.)
    """
    import onnx

    outer = merged.graph
    (switch,) = [node for node in outer.node if node.op_type == "If"]
    body = next(a.g for a in switch.attribute if a.name == branch)
    nodes = [node for node in outer.node if node.op_type != "If"] + list(body.node)
    producers = {out: node for node in nodes for out in node.output}
    outputs = list(body.output)
    if branch == "then_branch":
        # With the cache, the encoder's keys and values are inputs and come back empty:
        # leaving those outputs out leaves out the work that builds them.
        outputs = [out for out in outputs if ".encoder." not in out.name]
    needed: set[str] = set()
    pending = [out.name for out in outputs]
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        needed.add(name)
        node = producers.get(name)
        if node is not None:  # else an input or an initializer
            pending.extend(node.input)
    kept_nodes = [n for n in nodes if any(out in needed for out in n.output)]
    graph = onnx.helper.make_graph(
        kept_nodes,
        f"moonshine_decoder_{branch}",
        [value for value in outer.input if value.name in needed],
        outputs,  # named as the `If` names its outputs
        [init for init in [*outer.initializer, *body.initializer] if init.name in needed],
    )
    model = onnx.helper.make_model(graph, opset_imports=list(merged.opset_import))
    model.ir_version = merged.ir_version
    return model


if __name__ == "__main__":  # `make models`
    from src.core.settings import get_settings

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    print(ensure_converted(get_settings().model_cache_dir))
