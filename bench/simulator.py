"""Camera simulator cost: CPU of the ``mscc simulate-cameras`` process while N viewers pull every camera.

    python bench/simulator.py [--cameras 50] [--size 360p10] [--seconds 15] [--scenes DIR]

Starts the simulator as its own process (as a user runs it), measures its idle CPU, connects one PyAV
demux-only reader per camera over RTSP/TCP from this process (staggered, with retries, as the ingest
will), then prints the simulator's CPU % (100 % = one core) over ``--seconds`` next to its idle figure,
the frames the readers received against the frames the cameras should have sent, and its memory.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import av

from stream_ingest.simulator import SIZES, default_cache_dir

TICKS = os.sysconf("SC_CLK_TCK")
OPEN = {"rtsp_transport": "tcp", "timeout": "5000000", "analyzeduration": "500000", "probesize": "100000"}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_percent(pid: int, seconds: float) -> float:
    """CPU % of ``pid`` over the next ``seconds``."""
    before, started = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return 100 * (cpu_seconds(pid) - before) / (time.monotonic() - started)


class Reader(threading.Thread):
    """Demuxes one camera without decoding and counts the video packets."""

    def __init__(self, url: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.stop, self.packets, self.connected, self.failed = url, stop, 0, False, ""

    def run(self) -> None:
        for attempt in range(5):
            try:
                with av.open(self.url, options=OPEN, timeout=(5, 5)) as container:
                    self.connected = True
                    for _packet in container.demux(video=0):
                        self.packets += 1
                        if self.stop.is_set():
                            return
                return
            except (av.error.FFmpegError, OSError) as exc:
                self.failed = f"{type(exc).__name__}: {exc}"
                time.sleep(0.5 * (attempt + 1))


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cameras", type=int, default=50)
    parser.add_argument("--size", choices=sorted(SIZES), default="360p10")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--scenes", type=Path, default=default_cache_dir())
    args = parser.parse_args()

    mscc = shutil.which("mscc", path=str(Path(sys.executable).parent)) or "mscc"
    port = free_port()
    command = [mscc, "simulate-cameras", "--count", str(args.cameras), "--port", str(port)]
    command += ["--scenes", str(args.scenes), "--size", args.size]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    stop = threading.Event()
    try:
        assert server.stdout is not None
        for line in server.stdout:
            if "Ctrl-C" in line:
                break
        time.sleep(1)
        idle = cpu_percent(server.pid, 3)
        readers = [Reader(f"rtsp://127.0.0.1:{port}/cam{k}", stop) for k in range(args.cameras)]
        for reader in readers:
            reader.start()
            time.sleep(0.02)  # a staggered start, as the ingest connects a district
        time.sleep(5)  # every reader past its first keyframe
        connected = sum(r.connected for r in readers)
        packets_before = sum(r.packets for r in readers)
        started = time.monotonic()
        busy = cpu_percent(server.pid, args.seconds)
        received = (sum(r.packets for r in readers) - packets_before) / (time.monotonic() - started)
        expected = connected * SIZES[args.size].fps
        print(
            f"{args.cameras} cameras {args.size}: simulator CPU {busy:.1f} % with {connected} readers "
            f"(idle {idle:.1f} %), {busy / max(connected, 1):.2f} % per camera; "
            f"frames received {received:.0f}/s of {expected}/s; RSS {rss_mb(server.pid):.0f} MB"
        )
        failures = [r.failed for r in readers if not r.connected]
        if failures:
            print(f"{len(failures)} readers never connected, e.g. {failures[0]}")
    finally:
        stop.set()
        server.send_signal(signal.SIGINT)
        if server.wait(30) != 0:
            print(f"the simulator exited with status {server.returncode}")


if __name__ == "__main__":
    main()
