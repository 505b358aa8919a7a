"""Ingest CPU per camera against a naive OpenCV reader and the demux-only floor, on the same feeds.

    python bench/ingest.py [--cameras 50] [--size 720p15] [--seconds 30] [--skip-naive] [--naive-cameras K]
    python bench/ingest.py --cameras 255 --size 360p10 --sustain 300

Serves N simulated cameras from ``mscc simulate-cameras`` in its own process, then runs three readers
one after the other, each alone in its own child process so its CPU time (user + system, all threads)
is its own:

- ``naive``: one thread per camera, ``cv2.VideoCapture(url)`` and ``.read()`` on every frame;
- ``demux``: PyAV readers that receive packets and decode nothing (the floor any reader pays);
- ``ingest``: the real ``IngestService`` as ``mscc ingest`` runs it (keyframes only, one analysed frame
  per camera every ``--interval`` seconds, JPEG snapshots written, health evaluated, events to a no-op bus).

Counting starts once every camera has delivered a first frame (plus ``--warmup`` seconds), so connecting
is not measured. The machine is shared and noisy, so every figure is also printed as a ratio against the
readers measured in the same run, and the simulator's CPU and the whole machine's load are shown next to
each reader. After the table, the cost of decoding one keyframe of the same clips (warm, alone) gives the
least any reader that analyses a picture every ``--interval`` seconds must add to the demux floor.
``--sustain S`` runs only the ingest reader for S seconds and prints one line per minute.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import multiprocessing
import os
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Literal, Protocol

import av
import cv2

from command_center.events.schemas import Event
from stream_ingest.decoding import analysis_decoder, decode_now
from stream_ingest.frames import EvidenceStore, SnapshotStore
from stream_ingest.service import IngestService
from stream_ingest.simulator import SIZES, default_cache_dir, default_scene_names, ensure_scenes
from stream_ingest.source import StreamError, open_source
from stream_ingest.supervisor import SupervisorOptions
from stream_ingest.worker import CameraSpec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
from bench.report import print_rows, ratio, verdict

Kind = Literal["naive", "demux", "ingest", "record"]
TICKS = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1
# OpenCV serialises opens across threads (a global lock), ~1.9 s each with FFmpeg's default probing.
# The short probe changes only how much is read before the open returns, not the per-frame work that is
# measured, and brings 50 opens from ~95 s to ~30 s.
OPENCV_OPTIONS = "rtsp_transport;tcp|analyzeduration;500000|probesize;100000"
NAIVE_WARMUP_S = 10.0  # see compare()
CONNECT_SLOTS = 8  # the same stagger the ingest service uses, so the demux floor connects alike


# -- measuring a process ---------------------------------------------------------------------------
def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads); NaN once it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_cpu_s() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, summed over cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / TICKS, sum(values) / TICKS


def rss_mb() -> float:
    """This process's resident memory in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


@dataclass(frozen=True)
class Counters:
    """What a reader has done so far, summed over its cameras."""

    frames: int  # frames (naive) or video packets (demux, ingest) received
    reconnects: int
    analysed: tuple[int, ...] = ()  # ingest only: analysed frames per camera
    late: int = 0  # ingest only: the service's own count of missed analysis slots
    decoded: int = 0  # ingest only: frames that went through the decoder
    online: int = 0


@dataclass(frozen=True)
class Sample:
    """Counters and clocks at one instant, taken inside the reader's process."""

    t: float
    cpu_s: float
    simulator_cpu_s: float
    machine: tuple[float, float]
    rss_mb: float
    counters: Counters


@dataclass(frozen=True)
class Window:
    """A measured stretch between two samples; every rate below is over it."""

    start: Sample
    end: Sample

    @property
    def seconds(self) -> float:
        """Length of the window."""
        return self.end.t - self.start.t

    def _pct(self, before: float, after: float) -> float:
        return 100 * (after - before) / self.seconds

    @property
    def cpu_pct(self) -> float:
        """The reader's CPU, 100 = one core."""
        return self._pct(self.start.cpu_s, self.end.cpu_s)

    @property
    def simulator_pct(self) -> float:
        """The simulator's CPU over the same window, 100 = one core."""
        return self._pct(self.start.simulator_cpu_s, self.end.simulator_cpu_s)

    @property
    def machine_pct(self) -> float:
        """Everything running on the machine, 100 = one core (so at most 100 x cores)."""
        busy = self.end.machine[0] - self.start.machine[0]
        total = self.end.machine[1] - self.start.machine[1]
        return 100 * CORES * busy / total if total > 0 else math.nan

    @property
    def others_pct(self) -> float:
        """CPU used by neither the reader nor the simulator: the noise of a shared machine."""
        return self.machine_pct - self.cpu_pct - self.simulator_pct

    @property
    def saturated(self) -> bool:
        """The machine had almost no idle CPU: a reader may have been starved, not merely measured."""
        return self.machine_pct >= 0.9 * 100 * CORES

    @property
    def frames_per_s(self) -> float:
        """Frames or packets received per second, all cameras."""
        return (self.end.counters.frames - self.start.counters.frames) / self.seconds

    def analysed_per_camera_s(self) -> list[float]:
        """Analysed frames per second of each camera (ingest only)."""
        pairs = zip(self.start.counters.analysed, self.end.counters.analysed, strict=True)
        return [(b - a) / self.seconds for a, b in pairs]

    @property
    def late(self) -> int:
        """Missed analysis slots the service counted in this window."""
        return self.end.counters.late - self.start.counters.late


# -- the readers, each run inside its own child process --------------------------------------------
class Reader(Protocol):
    """One way of reading all the cameras."""

    def start(self) -> None: ...
    def ready(self) -> int: ...  # cameras that have delivered a first frame
    def counters(self) -> Counters: ...
    def stop(self) -> None: ...


class ThreadedReader:
    """One thread per camera; a subclass says how one camera is read until ``self.stopping``."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = list(urls)
        self.frames = [0] * len(urls)  # one writer per slot, so no lock is needed
        self.reconnects = 0
        self.stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._camera, args=(k,), daemon=True) for k in range(len(urls))
        ]

    def _camera(self, k: int) -> None:
        raise NotImplementedError

    def start(self) -> None:
        """Start every camera's thread."""
        for thread in self._threads:
            thread.start()

    def ready(self) -> int:
        """Cameras with at least one frame."""
        return sum(1 for n in self.frames if n)

    def counters(self) -> Counters:
        """Frames so far."""
        return Counters(frames=sum(self.frames), reconnects=self.reconnects, online=self.ready())

    def stop(self) -> None:
        """Stop reading; each thread leaves at its next frame or read timeout."""
        self.stopping.set()
        for thread in self._threads:
            thread.join(12)


class NaiveReader(ThreadedReader):
    """What a first attempt looks like: OpenCV decodes and converts every frame of every camera."""

    def _camera(self, k: int) -> None:
        timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 10_000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 10_000]
        while not self.stopping.is_set():
            capture = cv2.VideoCapture(self.urls[k], cv2.CAP_FFMPEG, timeouts)
            try:
                while capture.isOpened() and not self.stopping.is_set():
                    ok, _image = capture.read()
                    if not ok:
                        break
                    self.frames[k] += 1
            finally:
                capture.release()
            if not self.stopping.is_set():
                self.reconnects += 1
                self.stopping.wait(1)


class DemuxReader(ThreadedReader):
    """The floor: the ingest's own connection (``open_source``), packets received and never decoded."""

    def __init__(self, urls: Sequence[str]) -> None:
        super().__init__(urls)
        self._slots = threading.Semaphore(CONNECT_SLOTS)

    def _camera(self, k: int) -> None:
        while not self.stopping.is_set():
            try:
                with self._slots:  # held while opening only, as the ingest's supervisor does
                    source = open_source(self.urls[k])
            except StreamError:
                self.reconnects += 1
                self.stopping.wait(1)
                continue
            try:
                for packet in source.container.demux(source.video):
                    if self.stopping.is_set():
                        return
                    if packet.size:
                        self.frames[k] += 1
            except av.error.FFmpegError:
                pass  # counted as a reconnect below, like a stream that ended
            finally:
                source.close()
            if not self.stopping.is_set():
                self.reconnects += 1
                self.stopping.wait(1)


async def _discard(_event: Event) -> None:
    """The bus: events are not what is measured."""


class IngestReader:
    """The real ``IngestService``, configured as ``mscc ingest`` configures it, on its own event loop."""

    def __init__(self, urls: Sequence[str], interval_s: float, workdir: Path, record: bool = False) -> None:
        specs = [
            CameraSpec(id=f"cam{k}", url=url, analysis_interval_s=interval_s) for k, url in enumerate(urls)
        ]
        self._ids = [spec.id for spec in specs]
        self.service = IngestService(
            specs,
            publish=_discard,
            snapshots=SnapshotStore(workdir / "snapshots"),
            evidence=EvidenceStore(workdir / "evidence"),
            # `record`: the same ingest with every camera recorded by packet copy (mscc ingest --record).
            options=SupervisorOptions(record_dir=workdir / "recordings" if record else None),
        )
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(
            target=self._loop.run_until_complete, args=(self._run(),), daemon=True
        )

    async def _run(self) -> None:
        await self.service.run(self._stop)

    def start(self) -> None:
        """Start the service (it starts one supervisor thread per camera)."""
        self._thread.start()

    def ready(self) -> int:
        """Cameras with at least one analysed frame."""
        return sum(1 for sup in list(self.service.supervisors.values()) if sup.stats.analysed)

    def counters(self) -> Counters:
        """The supervisors' own statistics."""
        sups = dict(self.service.supervisors)
        stats = [sups[i].stats if i in sups else None for i in self._ids]
        return Counters(
            frames=sum(s.packets for s in stats if s),
            reconnects=sum(sup.reconnects for sup in sups.values()),
            analysed=tuple(s.analysed if s else 0 for s in stats),
            late=sum(s.late_analyses for s in stats if s),
            decoded=sum(s.decoded for s in stats if s),
            online=sum(1 for sup in sups.values() if sup.state == "online"),
        )

    def stop(self) -> None:
        """Stop the service the way SIGTERM does and wait for its cameras to close."""
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


@dataclass(frozen=True)
class Job:
    """What one child process is asked to measure."""

    kind: Kind
    urls: tuple[str, ...]
    seconds: float
    warmup_s: float
    connect_timeout_s: float
    interval_s: float
    report_every_s: float  # a Window is sent every so often; the last may be shorter


@dataclass(frozen=True)
class Ready:
    """Sent once connecting is over: how many cameras delivered a first frame, after how long."""

    cameras: int
    seconds: float


@dataclass(frozen=True)
class Failed:
    """The child could not measure."""

    message: str


def run_job(job: Job, simulator_pid: int, workdir: Path, out: Connection) -> None:
    """Child process entry point: connect, wait for the first frames, measure, report, stop."""
    # Everything the libraries say (FFmpeg, OpenCV, the service's logging) goes to a file, not the table.
    log_fd = os.open(workdir / f"{job.kind}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 2)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = OPENCV_OPTIONS
    try:
        reader: Reader = (
            NaiveReader(job.urls) if job.kind == "naive"
            else DemuxReader(job.urls) if job.kind == "demux"
            else IngestReader(job.urls, job.interval_s, workdir, record=job.kind == "record")
        )  # fmt: skip
        started = time.monotonic()
        reader.start()
        while reader.ready() < len(job.urls) and time.monotonic() - started < job.connect_timeout_s:
            time.sleep(0.25)
        out.send(Ready(cameras=reader.ready(), seconds=time.monotonic() - started))
        time.sleep(job.warmup_s)
        previous = _sample(reader, simulator_pid)
        end = previous.t + job.seconds
        while previous.t < end - 0.5:
            time.sleep(max(0.0, min(previous.t + job.report_every_s, end) - time.monotonic()))
            current = _sample(reader, simulator_pid)
            out.send(Window(previous, current))
            previous = current
        reader.stop()
    except Exception as exc:  # reported to the parent, which prints it in place of a result
        logging.exception("reader %s failed", job.kind)
        out.send(Failed(f"{type(exc).__name__}: {exc}"))
    out.close()


def _sample(reader: Reader, simulator_pid: int) -> Sample:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process, nothing else
    return Sample(
        t=time.monotonic(),
        cpu_s=usage.ru_utime + usage.ru_stime,
        simulator_cpu_s=proc_cpu_s(simulator_pid),
        machine=machine_cpu_s(),
        rss_mb=rss_mb(),
        counters=reader.counters(),
    )


# -- the parent: simulator, one child per reader, the report ---------------------------------------
@dataclass
class Run:
    """One reader's measurement as the parent received it."""

    kind: Kind
    cameras: int
    ready: Ready | None = None
    windows: list[Window] = field(default_factory=list)
    error: str = ""

    @property
    def total(self) -> Window:
        """The whole measurement as one window."""
        return Window(self.windows[0].start, self.windows[-1].end)

    @property
    def per_camera_pct(self) -> float:
        """CPU % per camera that delivered frames."""
        return self.total.cpu_pct / max(self.ready.cameras if self.ready else 0, 1)

    def received(self, fps: int) -> float:
        """Frames received as a fraction of what the cameras sent (below 1: the reader fell behind)."""
        return self.total.frames_per_s / max((self.ready.cameras if self.ready else 0) * fps, 1)


def median_run(runs: Sequence[Run]) -> Run:
    """The run with the median CPU per camera (the upper one of two)."""
    return sorted(runs, key=lambda r: r.per_camera_pct)[len(runs) // 2]


class Simulator:
    """``mscc simulate-cameras`` as its own process, so that serving costs the readers nothing."""

    def __init__(self, cameras: int, size: str, scenes: Path, workdir: Path) -> None:
        mscc = shutil.which("mscc", path=str(Path(sys.executable).parent)) or "mscc"
        self.port = _free_port()
        self.cameras = cameras
        command = [mscc, "simulate-cameras", "--count", str(cameras), "--port", str(self.port)]
        command += ["--size", size, "--scenes", str(scenes)]
        self._log = (workdir / "simulator.log").open("w")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._log, text=True)

    @property
    def urls(self) -> tuple[str, ...]:
        """The cameras' RTSP addresses."""
        return tuple(f"rtsp://127.0.0.1:{self.port}/cam{k}" for k in range(self.cameras))

    def wait_serving(self, timeout_s: float = 300) -> None:
        """Block until the simulator has printed its banner and accepts connections (clips may be
        encoded first, which takes a while the first time)."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout_s
        for line in self.process.stdout:  # the banner's last line; EOF means it died
            if "Ctrl-C" in line:
                break
        while time.monotonic() < deadline and self.process.poll() is None:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.2)
        self._log.flush()
        tail = Path(self._log.name).read_text(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError("the simulator did not start: " + " | ".join(tail))

    def close(self) -> None:
        """Stop it the way Ctrl-C does."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._log.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def measure(job: Job, simulator_pid: int, workdir: Path) -> Run:
    """Run ``job`` in a fresh child process and collect what it reports."""
    context = multiprocessing.get_context("spawn")  # a clean interpreter: no threads or state of ours
    receive, send = context.Pipe(duplex=False)
    child = context.Process(
        target=run_job, args=(job, simulator_pid, workdir, send), name=f"bench-{job.kind}"
    )
    run = Run(job.kind, len(job.urls))
    child.start()
    send.close()
    deadline = time.monotonic() + job.connect_timeout_s + job.warmup_s + job.seconds + 120
    try:
        while time.monotonic() < deadline:
            if not receive.poll(1.0):
                if not child.is_alive():
                    break
                continue
            try:
                message = receive.recv()
            except EOFError:
                break
            if isinstance(message, Ready):
                run.ready = message
                waited = f"after {message.seconds:.0f} s; measuring {job.seconds:.0f} s"
                print(
                    f"  {job.kind}: {message.cameras}/{len(job.urls)} cameras delivering frames {waited}",
                    flush=True,
                )
            elif isinstance(message, Window):
                run.windows.append(message)
                if job.report_every_s < job.seconds:
                    print_period(run)
            elif isinstance(message, Failed):
                run.error = message.message
        else:
            run.error = run.error or "timed out"
    finally:
        child.join(45)
        if child.is_alive():
            child.kill()
            child.join()
    if not run.windows and not run.error:
        run.error = f"the reader process ended without a result (exit code {child.exitcode})"
    return run


def keyframe_decode_ms(cameras: int, size: str, scenes: Path) -> float:
    """CPU milliseconds to decode one keyframe of the simulated feeds, as the ingest's analysis decoder
    does it (one thread, no deblocking), with warm caches and nothing else running: what any reader
    that analyses a picture pays per picture at the very least, before converting or looking at it."""
    clips = ensure_scenes(scenes, size=size, names=default_scene_names()[:cameras])  # cached by now
    costs = []
    for clip in clips.values():
        with av.open(str(clip.path)) as container:
            video = container.streams.video[0]
            keys = [p for p in container.demux(video) if p.size and p.is_keyframe]
            decoder = analysis_decoder(video.codec_context)
            passes = []
            for _ in range(3):  # the fastest pass: warm caches, the least noise
                started = time.thread_time()
                for packet in keys:
                    decode_now(decoder, packet)
                passes.append((time.thread_time() - started) / len(keys))
            costs.append(min(passes))
    return 1000 * statistics.fmean(costs)


def warnings_of(kind: Kind, workdir: Path) -> str:
    """A one-line summary of what the reader's libraries logged, for honesty about reconnects."""
    path = workdir / f"{kind}.log"
    text = path.read_text(errors="replace") if path.exists() else ""
    lines = [line for line in text.splitlines() if line.strip()]
    return f"{len(lines)} log lines, first: {lines[0][:120]}" if lines else "nothing logged"


def print_table(runs: dict[Kind, list[Run]], fps: int) -> dict[Kind, float]:
    """The comparison table; returns the median CPU % per camera of each reader."""
    per_cam = {kind: statistics.median(r.per_camera_pct for r in rs) for kind, rs in runs.items() if rs}
    rows = [["reader", "cameras", "CPU %", "CPU %/camera", "x naive", "x demux", "frames recv", "RSS MB",
             "simulator %", "others %", "machine %"]]  # fmt: skip
    for kind, rs in runs.items():
        if not rs:
            continue
        mid = median_run(rs)  # its details stand for the reader
        total, cams = mid.total, mid.ready.cameras if mid.ready else 0
        each = f"{per_cam[kind]:.3f}"
        if len(rs) > 1:
            each += f" ({min(r.per_camera_pct for r in rs):.3f}-{max(r.per_camera_pct for r in rs):.3f})"
        rows.append([
            kind, f"{cams}/{mid.cameras}", f"{total.cpu_pct:.1f}", each,
            ratio(per_cam[kind], per_cam.get("naive")), ratio(per_cam[kind], per_cam.get("demux")),
            f"{100 * mid.received(fps):.0f} %",
            f"{total.start.rss_mb:.0f}->{total.end.rss_mb:.0f}",
            f"{total.simulator_pct:.0f}", f"{total.others_pct:.0f}",
            f"{total.machine_pct:.0f}" + (" SATURATED" if total.saturated else ""),
        ])  # fmt: skip
    print_rows(rows)
    return per_cam


def print_ingest(run: Run, interval_s: float) -> tuple[float, int]:
    """The ingest's own figures; returns the slowest camera's analysed frames/s and the late analyses."""
    total = run.total
    end, start = total.end.counters, total.start.counters
    rates = total.analysed_per_camera_s() or [0.0]
    slowest = min(rates)
    print(
        f"ingest: analysed {statistics.fmean(rates):.3f} frames/camera/s (expected {1 / interval_s:.3f}, "
        f"one every {interval_s:g} s; slowest camera {slowest:.3f}); late analyses (missed slots) "
        f"{total.late} ({end.late} since start); decoded {end.decoded - start.decoded} frames for "
        f"{sum(end.analysed) - sum(start.analysed)} analysed; "
        f"reconnects {end.reconnects - start.reconnects}; "
        f"online {end.online}/{run.cameras}; RSS {total.start.rss_mb:.0f} MB at start, "
        f"{total.end.rss_mb:.0f} MB at end of the measurement"
    )
    return slowest, total.late


def print_period(run: Run) -> None:
    """One line of the sustained run, printed as each period's window arrives."""
    w, first = run.windows[-1], run.windows[0].start
    rates = w.analysed_per_camera_s() or [0.0]
    header = ["t (s)", "online", "analysed/cam/s", "slowest", "late", "late total", "reconnects", "CPU %",
              "CPU %/cam", "RSS MB", "simulator %", "others %", "machine %"]  # fmt: skip
    row = [
        f"{w.end.t - first.t:.0f}", str(w.end.counters.online), f"{statistics.fmean(rates):.3f}",
        f"{min(rates):.3f}",
        str(w.late), str(w.end.counters.late - first.counters.late),
        str(w.end.counters.reconnects - w.start.counters.reconnects), f"{w.cpu_pct:.1f}",
        f"{w.cpu_pct / run.cameras:.3f}", f"{w.end.rss_mb:.0f}", f"{w.simulator_pct:.0f}",
        f"{w.others_pct:.0f}", f"{w.machine_pct:.0f}" + (" SATURATED" if w.saturated else ""),
    ]  # fmt: skip
    # Fixed widths (the header's), so the lines printed one by one still line up.
    widths = [max(len(cell), 6) for cell in header]
    if len(run.windows) == 1:
        print("  " + "  ".join(cell.rjust(w) for cell, w in zip(header, widths, strict=True)))
    print("  " + "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)), flush=True)


def compare(args: argparse.Namespace, simulator: Simulator, workdir: Path) -> None:
    """Naive, demux and ingest one after the other on the same feeds, then the table and the targets."""
    fps = SIZES[args.size].fps
    kinds: list[Kind] = ["demux", "ingest"] if args.skip_naive else ["naive", "demux", "ingest"]
    if args.record:
        kinds.append("record")
    runs: dict[Kind, list[Run]] = {"naive": [], "demux": [], "ingest": [], "record": []}
    for round_no in range(args.rounds):
        if args.rounds > 1:
            print(f"round {round_no + 1}/{args.rounds}")
        for kind in kinds:
            urls = simulator.urls[: args.naive_cameras] if kind == "naive" else simulator.urls
            # OpenCV opens one camera at a time; PyAV opens eight at once.
            connect = args.connect_timeout or 30 + (1.5 if kind == "naive" else 0.5) * len(urls)
            # OpenCV's first cameras fall behind while the last ones open (the machine is busy decoding):
            # a longer warm-up lets them drain that backlog, which would otherwise count as extra frames.
            warmup = max(args.warmup, NAIVE_WARMUP_S) if kind == "naive" else args.warmup
            job = Job(kind, urls, args.seconds, warmup, connect, args.interval, args.seconds)
            run = measure(job, simulator.process.pid, workdir)
            if run.error or not run.windows:
                print(f"  {kind}: FAILED: {run.error}; {warnings_of(kind, workdir)}")
                continue
            runs[kind].append(run)
            time.sleep(2)  # let the closed sessions go before the next reader connects
    print(
        f"\n{args.cameras} cameras {args.size}, {args.seconds:g} s per reader once every camera delivered "
        f"(+{args.warmup:g} s warm-up, naive {max(args.warmup, NAIVE_WARMUP_S):g} s); "
        f"CPU % where 100 = one core ({CORES} cores here)"
    )
    per_cam = print_table(runs, fps)
    print(
        "  others % = CPU of processes that are neither the reader nor the simulator (a shared machine's "
        "noise); SATURATED = under 10 % idle, so the reader may have been starved and fallen behind."
    )
    for kind in kinds:
        print(f"  {kind} log: {warnings_of(kind, workdir)}")
    if args.skip_naive:
        print(
            "naive: not run (--skip-naive). With a few hundred cameras one OpenCV decoder per camera can "
            "need all of a small machine's CPU; the machine, not the reader, then sets its figure."
        )
    naive_full: float | None = None  # naive per camera scaled to every frame, when it fell behind
    if runs["naive"]:
        naive = median_run(runs["naive"])
        if naive.cameras < args.cameras:
            print(
                f"naive: run on {naive.cameras} of the {args.cameras} cameras; its per-camera figure is used."
            )
        if naive.received(fps) < 0.95:
            # Decoding every frame costs per frame, so the CPU it would need to keep up scales with the
            # frames it missed: a first-order correction, printed next to the measured figure.
            naive_full = per_cam["naive"] / naive.received(fps)
            print(
                f"naive: did NOT keep up ({100 * naive.received(fps):.0f} % of the frames; the machine was "
                f"busy), so {per_cam['naive']:.3f} %/camera is a lower bound; scaled to every frame: "
                f"{naive_full:.3f} %/camera."
            )
    if not runs["ingest"]:
        return
    print_ingest(median_run(runs["ingest"]), args.interval)
    ingest = per_cam["ingest"]
    if "demux" in per_cam:
        # What the ingest pays beyond receiving, per analysed frame: decode, BGR, JPEG, health checks.
        extra_ms = 10 * (ingest - per_cam["demux"]) * args.interval
        print(f"ingest: {extra_ms:.1f} ms of CPU per analysed frame above the demux floor")
    if "naive" in per_cam:
        got = ingest / per_cam["naive"]
        line = f"target: ingest <= 0.2 x naive: {got:.3f}x -> {verdict(got <= 0.2)}"
        if naive_full is not None:
            line += f" (against naive scaled to every frame: {ingest / naive_full:.3f}x -> "
            line += f"{verdict(ingest <= 0.2 * naive_full)})"
        print(line)
    else:
        print("target: ingest <= 0.2 x naive: not measured in this run")
    if "demux" in per_cam:
        got = ingest / per_cam["demux"]
        print(f"target: ingest <= 1.5 x demux: {got:.2f}x -> {verdict(got <= 1.5)}")
        # The same target for a reader that does nothing but decode the analysed keyframes: decoding
        # alone adds this much to the floor, whatever the reader does around it.
        decode_ms = keyframe_decode_ms(args.cameras, args.size, args.scenes)
        bound = (per_cam["demux"] + decode_ms / 10 / args.interval) / per_cam["demux"]
        print(
            f"  bound: one keyframe decode costs {decode_ms:.2f} ms here (warm, alone), so any reader that "
            f"decodes one every {args.interval:g} s needs at least {bound:.2f}x demux"
        )
    if "record" in per_cam:
        extra = per_cam["record"] - ingest
        ok = verdict(extra <= 0.1)
        print(f"target: recording adds <= 0.1 % of a core per camera: {extra:+.3f} % -> {ok}")


def sustain(args: argparse.Namespace, simulator: Simulator, workdir: Path) -> None:
    """Only the ingest, for ``--sustain`` seconds, one line per ``--report-every`` seconds."""
    urls = simulator.urls
    connect = args.connect_timeout or 30 + 0.5 * len(urls)
    job = Job("ingest", urls, args.sustain, args.warmup, connect, args.interval, args.report_every)
    run = measure(job, simulator.process.pid, workdir)
    if run.error or not run.windows:
        print(f"ingest: FAILED: {run.error}; {warnings_of('ingest', workdir)}")
        return
    print()
    slowest, late = print_ingest(run, args.interval)
    print(f"  ingest log: {warnings_of('ingest', workdir)}")
    total, expected = run.total, 1 / args.interval
    print(
        f"ingest CPU {total.cpu_pct:.1f} % ({total.cpu_pct / args.cameras:.3f} % per camera); simulator "
        f"{total.simulator_pct:.0f} %; other processes {total.others_pct:.0f} %; whole machine "
        f"{total.machine_pct:.0f} % of {100 * CORES} %"
    )
    # Memory is compared from the end of the first period, once the buffers have been allocated.
    first = run.windows[0].end.rss_mb if len(run.windows) > 1 else total.start.rss_mb
    growth = total.end.rss_mb - first
    online = total.end.counters.online
    print(
        f"target: {args.cameras} x {args.size}, one analysed frame every {args.interval:g} s, "
        f"{total.seconds:.0f} s"
    )
    print(
        f"  no missed analysis slots: {late} late analyses, slowest camera {slowest:.3f}/s of {expected:.3f} "
        f"-> {verdict(late == 0 and slowest >= 0.95 * expected)}"
    )
    print(f"  every camera online at the end: {online}/{args.cameras} -> {verdict(online == args.cameras)}")
    print(
        f"  memory flat: RSS {first:.0f} MB after the first period, {total.end.rss_mb:.0f} MB at the end "
        f"({growth:+.0f} MB, {100 * growth / first:+.1f} %; flat = within 5 %) "
        f"-> {verdict(growth <= 0.05 * first)}"
    )


def main() -> None:
    """Parse the options, serve the cameras, measure, print."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cameras", type=int, default=50, help="simulated cameras (1-255)")
    parser.add_argument("--size", choices=sorted(SIZES), default="720p15")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds per reader")
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="seconds after the first frames, not counted"
    )
    parser.add_argument("--interval", type=float, default=2.0, help="ingest analysis interval (s)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the readers; the median is shown")
    parser.add_argument("--skip-naive", action="store_true", help="do not run the OpenCV reader")
    parser.add_argument("--record", action="store_true", help="also run the ingest with recording on")
    parser.add_argument(
        "--naive-cameras", type=int, default=None, help="run naive on the first K cameras only"
    )
    parser.add_argument("--connect-timeout", type=float, default=0.0, help="seconds to wait for first frames")
    parser.add_argument(
        "--sustain", type=float, default=0.0, help="run only the ingest for this many seconds"
    )
    parser.add_argument("--report-every", type=float, default=60.0, help="--sustain: seconds per line")
    parser.add_argument("--scenes", type=Path, default=default_cache_dir(), help="clip cache folder")
    args = parser.parse_args()

    python = os.path.relpath(sys.executable) if sys.executable.startswith(str(Path.cwd())) else "python"
    print("$ " + shlex.join([python, *sys.argv]))
    load = os.getloadavg()
    versions = f"Python {sys.version.split()[0]}, PyAV {av.__version__}, OpenCV {cv2.__version__}"
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M:%S')}, {CORES} cores, load {load[0]:.2f}, {versions}", flush=True
    )
    with tempfile.TemporaryDirectory(prefix="mscc-bench-ingest-") as tmp:
        workdir = Path(tmp)
        simulator = Simulator(args.cameras, args.size, args.scenes, workdir)
        try:
            simulator.wait_serving()
            if args.sustain > 0:
                sustain(args, simulator, workdir)
            else:
                compare(args, simulator, workdir)
        finally:
            simulator.close()


if __name__ == "__main__":
    main()
