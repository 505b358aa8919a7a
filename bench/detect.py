"""Detector throughput at 320 (ONNX Runtime against ultralytics PyTorch, same model, same frames) and the
end-to-end pipeline on simulated feeds with motion gating on against off, in one run.

    python bench/detect.py [--weights detectors/models/no_mask.pt] [--frames 64] [--rounds 3]
    python bench/detect.py --skip-e2e                     # model throughput only
    python bench/detect.py --skip-throughput --cameras 8 --seconds 60

Throughput: the weights are exported in the run to a temporary ONNX at 320
(``detectors.training.train.export_onnx``), then the first ``--frames`` face-mask photos (sorted, read
once) go one at a time, 2 threads, through our ONNX Runtime path (``YoloOnnx``) and through ultralytics
``YOLO.predict`` (``UltralyticsBackend``): both from BGR frame to detections, letterbox and NMS included.
Each is warmed up first; the two alternate over ``--rounds`` rounds and the medians are shown. The ONNX
path in batches of 8 and with 1 thread, and the YOLOX person model (its own 416 input), are shown for
information. ultralytics' own printing goes to a log file in the run's temporary folder.

End to end: ``--cameras`` simulated cameras (a simulator in its own process, not counted) cycle the scenes
facemask-nomask, facemask-masked, kitchen-a and kitchen-b; the real ``IngestService`` hands one analysed
frame per camera every ``--interval`` seconds through a ``FrameQueue`` to the real ``DetectorPipeline``
with the shipped configuration, each phase alone in its own child process (its CPU is its own, decoding
included): first with motion gating on, then off as the baseline. Rates are measured over ``--seconds``
once every camera has delivered a frame; alerts are counted from the pipeline's start to its stop. Alert
latency is the wall time at the pipeline's emit minus the confirming frame's capture time (``alert.ts``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import os
import resource
import shlex
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path

import cv2
import numpy as np
import yaml

from command_center.events.schemas import AlertCreated, Event
from detectors.backends import load_backend
from detectors.backends.onnx import YoloOnnx
from detectors.backends.ultralytics import UltralyticsBackend
from detectors.base import Backend, Image, ModelSpec
from detectors.config import load_detector_config
from detectors.runner import DetectorPipeline
from detectors.training.train import export_onnx
from stream_ingest.frames import AnalysedFrame, EvidenceStore, FrameQueue, SnapshotStore
from stream_ingest.service import IngestService
from stream_ingest.simulator import CameraSimulator, default_cache_dir, ensure_scenes
from stream_ingest.simulator.facemask import dataset_dir
from stream_ingest.worker import CameraSpec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
from bench.report import print_rows, ratio, verdict

ROOT = Path(__file__).resolve().parents[1]
TRAINED = ROOT / "detectors" / "models" / "no_mask.pt"
PROVISIONAL = Path("/tmp/mask_last.pt")  # noqa: S108 - a checkpoint left there by a training run
SCENES = ("facemask-nomask", "facemask-masked", "kitchen-a", "kitchen-b")
TARGET_RATIO = 1.6
LATENCY_MARGIN_S = 1.5
CORES = os.cpu_count() or 1


def machine_cpu_s() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, summed over cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(values) - values[3] - values[4]) / ticks, sum(values) / ticks


def machine_pct(start: tuple[float, float], end: tuple[float, float]) -> float:
    """Everything the machine ran between two ``machine_cpu_s`` readings, 100 = one core."""
    total = end[1] - start[1]
    return 100 * CORES * (end[0] - start[0]) / total if total > 0 else float("nan")


def cpu_s() -> float:
    """User + system CPU seconds of this process, all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def quiet(log: Path) -> Iterator[None]:
    """Send what libraries print to file descriptors 1 and 2 (ultralytics' banners) to ``log`` meanwhile,
    so the report stays readable; errors still surface as exceptions."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log.open("a") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


# -- part 1: one model, two runtimes ---------------------------------------------------------------
def read_frames(count: int) -> list[Image]:
    """The first ``count`` face-mask photos, sorted by name, as BGR arrays."""
    folder = dataset_dir() / "images"
    paths = sorted(folder.glob("*.jpg"))[:count] if folder.is_dir() else []
    if not paths:
        raise SystemExit(f"no face-mask photos in {folder}")
    frames = []
    for path in paths:
        image = cv2.imread(str(path))
        if image is None:
            raise SystemExit(f"{path}: not a readable image")
        frames.append(np.asarray(image, np.uint8))
    return frames


def export_model(weights: Path, workdir: Path, imgsz: int) -> tuple[Path, list[str]]:
    """``weights`` exported to ONNX in ``workdir``; returns the file and its class names.

    The export runs on a copy: ultralytics writes its ONNX next to the weights before ``export_onnx``
    moves it, which beside ``detectors/models/no_mask.pt`` would replace the shipped ``no_mask.onnx``."""
    copy = workdir / weights.name
    shutil.copyfile(weights, copy)
    out = export_onnx(copy, workdir / "bench-320.onnx", imgsz=imgsz)
    card = yaml.safe_load(out.with_suffix(".yaml").read_text())
    return out, [str(n) for n in card["names"]]


def seconds_per_frame(backend: Backend, frames: Sequence[Image], batch: int) -> tuple[float, int]:
    """Wall seconds per frame of ``backend.detect`` over ``frames`` in batches of ``batch``, and the number
    of detections it returned (to check that two runtimes of one model agree)."""
    found = 0
    started = time.perf_counter()
    for i in range(0, len(frames), batch):
        found += sum(len(d) for d in backend.detect(frames[i : i + batch]))
    return (time.perf_counter() - started) / len(frames), found


@dataclass
class Timings:
    """Seconds per frame of one path, one entry per round."""

    label: str
    rounds: list[float] = field(default_factory=list)
    detections: int = 0

    @property
    def median(self) -> float:
        """Median seconds per frame."""
        return statistics.median(self.rounds)

    def spread(self) -> str:
        """The range over rounds in ms, when there was more than one."""
        if len(self.rounds) < 2:
            return ""
        return f"{1000 * min(self.rounds):.1f}-{1000 * max(self.rounds):.1f}"


def throughput(args: argparse.Namespace, workdir: Path) -> None:
    """Part 1: the same weights through ONNX Runtime and ultralytics PyTorch at 320, then the table."""
    weights: Path = args.weights or (TRAINED if TRAINED.is_file() else PROVISIONAL)
    if not weights.is_file():
        raise SystemExit(f"{weights}: no such weights file (pass --weights)")
    frames = read_frames(args.frames)

    def spec(kind: str, file: Path, names: list[str], threads: int = args.threads) -> ModelSpec:
        return ModelSpec.model_validate(
            {"name": "bench", "type": kind, "file": file, "input_size": args.imgsz, "names": names,
             "threads": threads, "max_batch": 8}
        )  # fmt: skip

    started = time.monotonic()
    with quiet(workdir / "ultralytics.log"):
        onnx_file, names = export_model(weights, workdir, args.imgsz)
        export_s = time.monotonic() - started
        onnx = YoloOnnx(spec("onnxruntime", onnx_file, names), onnx_file)
        torch = UltralyticsBackend(spec("ultralytics", weights, names), weights)
        paths: list[tuple[Timings, Backend, int]] = [
            (Timings("ultralytics PyTorch predict"), torch, 1),
            (Timings("ONNX Runtime (YoloOnnx)"), onnx, 1),
        ]
        for _, backend, _ in paths:
            seconds_per_frame(backend, frames[: args.warmup_frames], 1)
    print(
        f"model throughput at {args.imgsz}: {weights} exported to ONNX in this run ({export_s:.0f} s); "
        f"{len(frames)} photos from {dataset_dir() / 'images'} (sorted, {frames[0].shape[1]}x"
        f"{frames[0].shape[0]} the first); {args.threads} threads; {args.rounds} rounds alternating, medians",
        flush=True,
    )
    machine_before, cpu_before, wall_before = machine_cpu_s(), cpu_s(), time.monotonic()
    for n in range(args.rounds):
        for timings, backend, batch in paths if n % 2 == 0 else paths[::-1]:
            seconds, timings.detections = seconds_per_frame(backend, frames, batch)
            timings.rounds.append(seconds)
    own = 100 * (cpu_s() - cpu_before) / (time.monotonic() - wall_before)
    busy = machine_pct(machine_before, machine_cpu_s())
    batched = Timings("ONNX Runtime, batches of 8")
    seconds_per_frame(onnx, frames[:8], 8)
    for _ in range(args.rounds):
        batched.rounds.append(seconds_per_frame(onnx, frames, 8)[0])
    # ONNX Runtime's threads spin-wait for work; on cores shared with other work that can cost more than
    # the second thread gains, which this row shows.
    single = Timings("ONNX Runtime, 1 thread")
    one_thread = YoloOnnx(spec("onnxruntime", onnx_file, names, threads=1), onnx_file)
    seconds_per_frame(one_thread, frames[: args.warmup_frames], 1)
    for _ in range(args.rounds):
        single.rounds.append(seconds_per_frame(one_thread, frames, 1)[0])
    extra = [batched, single]
    config = load_detector_config()
    person_spec = next((m for m in config.models if m.type == "yolox-onnx"), None)
    if person_spec is not None:
        person = load_backend(person_spec, base_dir=config.base_dir)
        yolox = Timings(f"YOLOX person ({person_spec.file.name}, {person_spec.input_size})")
        seconds_per_frame(person, frames[: args.warmup_frames], 1)
        yolox.rounds.append(seconds_per_frame(person, frames, 1)[0])
        extra.append(yolox)

    base = paths[0][0].median
    rows = [["path", "ms/frame", "range ms", "frames/s", "x PyTorch", "detections"]]
    for timings in [paths[0][0], paths[1][0], *extra]:
        rows.append([
            timings.label, f"{1000 * timings.median:.1f}", timings.spread(), f"{1 / timings.median:.1f}",
            ratio(base, timings.median), str(timings.detections) if timings.detections else "",
        ])  # fmt: skip
    print_rows(rows, indent="  ")
    print(
        f"  batch 1 unless said; detections = boxes at score >= 0.25 over the {len(frames)} photos (the "
        "two runtimes of one model should nearly agree); the rows below the first two are for information"
    )
    print(
        f"  machine during the alternating rounds: {busy:.0f} % of {100 * CORES} % busy, this process "
        f"{own:.0f} %: other work shares the cores, so read the ratio, not the absolute figures"
    )
    got = base / paths[1][0].median
    print(
        f"target: ONNX Runtime >= {TARGET_RATIO}x ultralytics PyTorch frames/s at {args.imgsz}, batch 1: "
        f"{got:.2f}x -> {verdict(got >= TARGET_RATIO)}",
        flush=True,
    )


# -- part 2: the pipeline on simulated feeds -------------------------------------------------------
def serve_cameras(count: int, cache: Path, log_file: Path, out: Connection, stop: ProcessEvent) -> None:
    """Simulator process: encode the scenes if needed, serve ``count`` cameras cycling ``SCENES``, send
    back ``[(url, scene), ...]`` (or an error string) and serve until ``stop``."""
    logging.basicConfig(level=logging.WARNING, filename=log_file)
    try:
        clips = ensure_scenes(cache, names=SCENES)
        missing = [name for name in SCENES if name not in clips]
        if missing:
            raise RuntimeError(f"scenes not available: {missing} (face-mask dataset, ffmpeg?)")
        simulator = CameraSimulator(port=0)
        simulator.start()
        cameras = [
            (simulator.add_camera(f"cam{k}", clips[SCENES[k % len(SCENES)]]), SCENES[k % len(SCENES)])
            for k in range(count)
        ]
    except Exception as exc:  # reported to the parent, which prints it
        out.send(f"{type(exc).__name__}: {exc}")
        return
    out.send(cameras)
    stop.wait()
    simulator.stop()


@dataclass(frozen=True)
class Phase:
    """What one pipeline child process is asked to run."""

    gated: bool
    cameras: tuple[tuple[str, str], ...]  # (url, scene)
    seconds: float
    interval_s: float
    connect_timeout_s: float
    workdir: Path


@dataclass(frozen=True)
class Seen:
    """One ``alert.created`` as the pipeline emitted it."""

    camera_id: str
    violation: str
    latency_s: float


@dataclass(frozen=True)
class PhaseResult:
    """A phase's measurement over its window, and every alert of the whole phase."""

    gated: bool
    ready_s: float
    seconds: float
    cpu_s: float
    machine_pct: float
    frames: int
    inferred: dict[str, int]
    gated_frames: int
    skipped: int
    offered: int
    dropped: int
    rejected: int
    alerts: tuple[Seen, ...]
    error: str = ""

    @property
    def cpu_per_frame_ms(self) -> float:
        """Process CPU milliseconds per analysed frame (decoding, gate, models, rules, evidence)."""
        return 1000 * self.cpu_s / self.frames if self.frames else float("nan")


class MeasuredPipeline(DetectorPipeline):
    """The real pipeline with a lock held over each batch, so its counters are read between batches
    (otherwise a batch in flight counts as analysed but not yet as inferred)."""

    lock = threading.Lock()

    def process(self, frames: Sequence[AnalysedFrame]) -> list[AlertCreated]:
        """``DetectorPipeline.process``, under ``lock``."""
        with self.lock:
            return super().process(frames)


def run_phase(job: Phase, out: Connection) -> None:
    """Child process entry point: ingest plus pipeline on the simulated cameras, measured, reported."""
    log_fd = os.open(job.workdir / f"pipeline-{'gated' if job.gated else 'ungated'}.log",
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)  # fmt: skip
    os.dup2(log_fd, 2)  # the libraries' and the service's logging go to a file, not the table
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        out.send(asyncio.run(_phase(job)))
    except Exception as exc:  # reported to the parent, which prints it in place of a result
        logging.exception("phase failed")
        out.send(f"{type(exc).__name__}: {exc}")
    out.close()


@dataclass(frozen=True)
class Reading:
    """Clocks and counters of a phase at one instant, read between two batches."""

    t: float
    cpu_s: float
    machine: tuple[float, float]
    frames: int
    inferred: dict[str, int]
    gated: int
    skipped: int
    rejected: int
    offered: int
    dropped: int


def read(pipeline: MeasuredPipeline, queue: FrameQueue) -> Reading:
    """The phase's counters now (waits for the batch in flight, if any)."""
    with pipeline.lock:
        st = pipeline.stats
        return Reading(time.monotonic(), cpu_s(), machine_cpu_s(), st.frames, dict(st.inferred), st.gated,
                       st.skipped, st.rejected, queue.offered, queue.dropped)  # fmt: skip


async def _phase(job: Phase) -> PhaseResult:
    config = load_detector_config()
    if not job.gated:
        config = config.model_copy(update={"motion": config.motion.model_copy(update={"enabled": False})})
    specs = [CameraSpec(f"cam{k}", url, job.interval_s) for k, (url, _) in enumerate(job.cameras)]

    async def publish(_event: Event) -> None:
        """The bus: events are not what is measured."""

    evidence = EvidenceStore(job.workdir / f"evidence-{'gated' if job.gated else 'ungated'}")
    queue = FrameQueue(maxsize=config.batch.queue)
    service = IngestService(
        specs, publish=publish, snapshots=SnapshotStore(), evidence=evidence, frames=queue
    )
    seen: list[Seen] = []

    def emit(event: Event) -> None:
        if isinstance(event, AlertCreated):
            seen.append(Seen(str(event.camera_id), event.violation, time.time() - event.ts.timestamp()))
        service.emit(event)

    pipeline = MeasuredPipeline(config, emit=emit, evidence=evidence, cameras={s.id: s for s in specs})
    pipeline.start(queue)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    started = time.monotonic()
    try:
        while time.monotonic() - started < job.connect_timeout_s:
            sups = list(service.supervisors.values())
            if len(sups) == len(specs) and all(s.stats.analysed for s in sups):
                break
            await asyncio.sleep(0.25)
        ready_s = time.monotonic() - started
        first = await asyncio.to_thread(read, pipeline, queue)
        await asyncio.sleep(job.seconds)
        last = await asyncio.to_thread(read, pipeline, queue)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)
        await asyncio.to_thread(pipeline.stop)
    return PhaseResult(
        gated=job.gated,
        ready_s=ready_s,
        seconds=last.t - first.t,
        cpu_s=last.cpu_s - first.cpu_s,
        machine_pct=machine_pct(first.machine, last.machine),
        frames=last.frames - first.frames,
        inferred={m: n - first.inferred.get(m, 0) for m, n in last.inferred.items()},
        gated_frames=last.gated - first.gated,
        skipped=last.skipped - first.skipped,
        offered=last.offered - first.offered,
        dropped=last.dropped - first.dropped,
        rejected=last.rejected - first.rejected,
        alerts=tuple(seen),
    )


def in_child(target: Callable[..., None], args: tuple[object, ...], timeout_s: float) -> object:
    """Run ``target(*args, send_end)`` in a fresh spawned process and return the one object it sends
    (or an error string)."""
    context = multiprocessing.get_context("spawn")  # a clean interpreter: no threads or torch of ours
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=target, args=(*args, send))
    child.start()
    send.close()
    try:
        if receive.poll(timeout_s):
            return receive.recv()
        return "timed out" if child.is_alive() else f"ended without a result (exit code {child.exitcode})"
    except EOFError:
        return f"ended without a result (exit code {child.exitcode})"
    finally:
        child.join(60)
        if child.is_alive():
            child.kill()
            child.join()


def end_to_end(args: argparse.Namespace, workdir: Path) -> None:
    """Part 2: the simulator, then the gated and the ungated pipeline, then the tables and targets."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    stop = context.Event()
    simulator = context.Process(
        target=serve_cameras, args=(args.cameras, args.scenes, workdir / "simulator.log", send, stop)
    )
    simulator.start()
    try:
        cameras = receive.recv() if receive.poll(600) else "the simulator did not start in 600 s"
        if isinstance(cameras, str):
            print(f"end to end: FAILED: {cameras}")
            return
        print(
            f"\nend to end: {args.cameras} simulated cameras (360p10, keyframe every 1 s) cycling "
            f"{', '.join(SCENES)}; analysis every {args.interval:g} s per camera; shipped detector config; "
            f"{args.seconds:g} s measured per phase once every camera delivered",
            flush=True,
        )
        results: list[PhaseResult] = []
        for gated in (True, False):
            job = Phase(gated, tuple(cameras), args.seconds, args.interval, args.connect_timeout, workdir)
            got = in_child(run_phase, (job,), args.connect_timeout + args.seconds + 180)
            if not isinstance(got, PhaseResult):
                print(f"  phase {'gated' if gated else 'ungated'}: FAILED: {got}")
                return
            results.append(got)
            time.sleep(2)  # let the closed sessions go before the next phase connects
    finally:
        stop.set()
        simulator.join(30)
        if simulator.is_alive():
            simulator.kill()
    report_end_to_end(results, [scene for _, scene in cameras], args.interval)


def report_end_to_end(results: Sequence[PhaseResult], scenes: Sequence[str], interval_s: float) -> None:
    """The two phases side by side, the alerts per camera and the targets."""
    gated, ungated = results
    rows = [["motion gate", "analysed/s", "models ran on/s", "skipped by gate", "queue drops", "rejected",
             "CPU ms/frame", "x ungated", "CPU %", "machine %", "ready after"]]  # fmt: skip
    for r in (gated, ungated):
        ran = ", ".join(f"{m} {n / r.seconds:.2f}" for m, n in r.inferred.items() if n) or "0"
        share = r.skipped / max(r.gated_frames + r.skipped, 1)
        rows.append([
            "on" if r.gated else "off (baseline)", f"{r.frames / r.seconds:.2f}", ran,
            f"{100 * share:.0f} % ({r.skipped})", f"{r.dropped} of {r.offered}", str(r.rejected),
            f"{r.cpu_per_frame_ms:.1f}", ratio(r.cpu_per_frame_ms, ungated.cpu_per_frame_ms),
            f"{100 * r.cpu_s / r.seconds:.0f}", f"{r.machine_pct:.0f} of {100 * CORES}", f"{r.ready_s:.0f} s",
        ])  # fmt: skip
    print_rows(rows, indent="  ")
    print(
        "  CPU = the phase process (ingest decoding included, simulator not); machine % = everything "
        "running, other work included"
    )
    print("alerts over each whole phase (no_mask; cooldown 300 s, so one per no-mask camera):")
    rows = [["camera", "scene", "gated", "ungated", "max latency s"]]
    ok = True
    for k, scene in enumerate(scenes):
        cam = f"cam{k}"
        counts = [
            sum(1 for a in r.alerts if a.camera_id == cam and a.violation == "no_mask") for r in results
        ]
        lat = [a.latency_s for r in results for a in r.alerts if a.camera_id == cam]
        expected = 1 if scene == "facemask-nomask" else 0 if scene == "facemask-masked" else None
        if expected is not None:
            ok = ok and all(c == expected for c in counts)
        rows.append([cam, scene, *map(str, counts), f"{max(lat):.2f}" if lat else ""])
    print_rows(rows, indent="  ")
    others = sorted(
        {(a.camera_id, a.violation) for r in results for a in r.alerts if a.violation != "no_mask"}
    )
    if others:
        print(f"  other alerts: {', '.join(f'{c} {v}' for c, v in others)}")
    print(
        "target: exactly one no_mask alert per facemask-nomask camera, none on facemask-masked "
        f"-> {verdict(ok)}"
    )
    latencies = [a.latency_s for r in results for a in r.alerts]
    limit = interval_s + LATENCY_MARGIN_S
    if latencies:
        worst = max(latencies)
        print(
            f"target: alert latency (emit - confirming frame's capture) <= {limit:g} s: "
            f"max {worst:.2f} s over {len(latencies)} alerts (median {statistics.median(latencies):.2f}) "
            f"-> {verdict(worst <= limit)}"
        )
    else:
        print(f"target: alert latency <= {limit:g} s: no alerts -> MISS")
    got = gated.cpu_per_frame_ms / ungated.cpu_per_frame_ms
    print(f"motion gating: CPU per analysed frame {got:.2f}x of ungated ({100 * (1 - got):+.0f} % saved)")


def main() -> None:
    """Parse the options, run the parts asked for, print."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skip-throughput", action="store_true", help="do not run part 1 (model throughput)")
    parser.add_argument("--skip-e2e", action="store_true", help="do not run part 2 (simulated feeds)")
    parser.add_argument(
        "--weights", type=Path, default=None,
        help=f"trained .pt (default {TRAINED.relative_to(ROOT)}, else {PROVISIONAL} while it does not exist)",
    )  # fmt: skip
    parser.add_argument("--imgsz", type=int, default=320, help="export and inference size")
    parser.add_argument("--frames", type=int, default=64, help="face-mask photos timed per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are shown")
    parser.add_argument("--warmup-frames", type=int, default=8, help="frames run before timing each path")
    parser.add_argument("--threads", type=int, default=2, help="inference threads of both runtimes")
    parser.add_argument("--cameras", type=int, default=8, help="simulated cameras")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds per phase")
    parser.add_argument("--interval", type=float, default=2.0, help="analysis interval per camera (s)")
    parser.add_argument(
        "--connect-timeout", type=float, default=60.0, help="seconds to wait for first frames"
    )
    parser.add_argument("--scenes", type=Path, default=default_cache_dir(), help="clip cache folder")
    args = parser.parse_args()

    python = os.path.relpath(sys.executable) if sys.executable.startswith(str(Path.cwd())) else "python"
    print("$ " + shlex.join([python, *sys.argv]))
    load = os.getloadavg()
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S')}, {CORES} cores, load {load[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="mscc-bench-detect-") as tmp:
        if not args.skip_throughput:
            throughput(args, Path(tmp))
        if not args.skip_e2e:
            end_to_end(args, Path(tmp))


if __name__ == "__main__":
    main()
