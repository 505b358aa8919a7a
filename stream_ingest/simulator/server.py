"""A real RTSP server (GStreamer's gst-rtsp-server) serving pre-encoded clips as looping cameras.

Each camera is its own mount (``rtsp://host:port/camK``) with a shared media factory, so any number of
viewers of one camera cost one pipeline, and that pipeline only repacketises the clip:

    multifilesrc loop=true ! h264parse ! rtph264pay

An Annex-B elementary stream carries no timestamps. Given the frame rate in the source caps, h264parse
counts decode timestamps (DTS) on and on across the loop point, but it never sets presentation timestamps
(PTS), and rtph264pay derives the RTP clock from the PTS only: without one every packet would carry the
same RTP time. A pad probe copies DTS to PTS, which is exact because the clips have no B-frames. That one
Python call per frame per camera (not per viewer) is the whole cost of looping; the loop itself is
seamless because the next pass starts with the clip's first keyframe.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from stream_ingest.simulator.clips import Clip, SimulatorError

logger = logging.getLogger(__name__)

_REQUIRED_ELEMENTS = ("multifilesrc", "h264parse", "rtph264pay")
# The kernel clamps this to net.core.somaxconn; the library default of 5 refuses connections when a
# whole district of cameras is opened at once.
_BACKLOG = 1024
_REAP_EVERY_S = 20
_SETTLE_S = 5.0
_SETTLE_ITERATIONS = 20_000
_gi_modules: tuple[Any, Any, Any] | None = None


def _gi() -> tuple[Any, Any, Any]:
    """``(Gst, GLib, GstRtspServer)``, loaded on first use so the clip code runs without GStreamer."""
    global _gi_modules
    if _gi_modules is None:
        hint = (
            "the camera simulator needs GStreamer's RTSP server "
            "(Debian: apt install python3-gi gir1.2-gst-rtsp-server-1.0 "
            "gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)"
        )
        try:
            import gi

            gi.require_version("Gst", "1.0")
            gi.require_version("GstRtspServer", "1.0")
            from gi.repository import GLib, Gst, GstRtspServer
        except (ImportError, ValueError) as exc:
            raise SimulatorError(f"{hint}: {exc}") from exc
        Gst.init(None)
        missing = [name for name in _REQUIRED_ELEMENTS if Gst.ElementFactory.find(name) is None]
        if missing:
            raise SimulatorError(f"{hint}: missing GStreamer elements {', '.join(missing)}")
        _gi_modules = (Gst, GLib, GstRtspServer)
    return _gi_modules


def gstreamer_available() -> bool:
    """True when the RTSP server and the elements it needs can be loaded."""
    try:
        _gi()
    except SimulatorError:
        return False
    return True


def _mount(path: str) -> str:
    return "/" + path.strip("/")


def _launch_line(clip: Clip) -> str:
    """The media pipeline for ``clip`` in gst-launch syntax (the location quoted for that syntax)."""
    location = str(clip.path.resolve()).replace("\\", "\\\\").replace('"', '\\"')
    caps = f"video/x-h264,stream-format=byte-stream,framerate={clip.fps}/1"
    return (
        f'( multifilesrc location="{location}" loop=true caps="{caps}" ! h264parse name=parse '
        "! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )


class CameraSimulator:
    """Looping H.264 cameras behind one RTSP server on ``host:port`` (``port=0`` picks a free port).

    ``start()`` runs the server's GLib main loop in a daemon thread; ``stop()`` closes the listening socket
    and drops every viewer, as if the cameras' switch lost power; ``start()`` again serves the same cameras
    on the same port. Cameras may be added and removed at any time.
    """

    def __init__(self, port: int = 8554, host: str = "127.0.0.1") -> None:
        self._gst, self._glib, rtsp = _gi()
        self._rtsp: Any = rtsp
        self._host = host
        self._port = port
        self._cameras: dict[str, Clip] = {}
        self._media: dict[int, Any] = {}  # prepared pipelines, so stop() can end them all
        self._lock = threading.Lock()
        self._server: Any = rtsp.RTSPServer()
        self._server.set_address(host)
        self._server.set_backlog(_BACKLOG)
        self._mounts: Any = self._server.get_mount_points()
        self._context: Any = None
        self._loop: Any = None
        self._source: Any = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port served (the one the system picked once started, when created with ``port=0``)."""
        return self._port

    @property
    def running(self) -> bool:
        """True between ``start()`` and ``stop()``."""
        return self._thread is not None

    @property
    def urls(self) -> list[str]:
        """The RTSP URL of every camera, in the order they were added (with ``port=0``, read it after
        ``start()``: only then is the port known)."""
        with self._lock:
            return [self._url(mount) for mount in self._cameras]

    @property
    def cameras(self) -> dict[str, Clip]:
        """Mount path (``/cam0``) to the clip it serves."""
        with self._lock:
            return dict(self._cameras)

    def url(self, path: str) -> str:
        """The RTSP URL a client opens for camera ``path``."""
        return self._url(_mount(path))

    def _url(self, mount: str) -> str:
        host = "127.0.0.1" if self._host in ("0.0.0.0", "") else self._host  # noqa: S104 - compared, not bound
        host = f"[{host}]" if ":" in host else host
        return f"rtsp://{host}:{self._port}{mount}"

    def add_camera(self, path: str, clip: Clip) -> str:
        """Serve ``clip`` in a loop at ``path`` (``cam0`` or ``/cam0``); returns its URL.

        Replacing an existing camera drops its current viewers, as a real camera does when reconfigured,
        so they reconnect to the new picture.
        """
        mount = _mount(path)
        if mount in self.cameras:
            self.remove_camera(mount)
        factory = self._rtsp.RTSPMediaFactory()
        factory.set_launch(_launch_line(clip))
        factory.set_shared(True)
        factory.connect("media-configure", self._on_media_configure)
        with self._lock:
            self._cameras[mount] = clip
        self._mounts.add_factory(mount, factory)
        logger.debug("camera %s serves %s", mount, clip.path.name)
        return self._url(mount)

    def add_cameras(self, count: int, clips: Sequence[Clip], prefix: str = "cam") -> list[str]:
        """Serve ``count`` cameras ``cam0``..; camera K loops ``clips[K % len(clips)]``. Returns the URLs."""
        if not clips:
            raise SimulatorError("no clips to serve")
        return [self.add_camera(f"{prefix}{k}", clips[k % len(clips)]) for k in range(count)]

    def remove_camera(self, path: str) -> None:
        """Stop serving ``path`` and disconnect its viewers (later connects get 404 Not Found)."""
        mount = _mount(path)
        with self._lock:
            if self._cameras.pop(mount, None) is None:
                return
        self._mounts.remove_factory(mount)
        if self.running:
            self._call_in_loop(lambda: self._drop_clients(mount))

    def start(self) -> None:
        """Listen and serve; returns once connections are accepted. Raises ``SimulatorError`` if the
        port is taken."""
        if self.running:
            return
        self._server.set_service(str(self._port))
        try:
            # Binding here, in the caller's thread, is what lets start() report a taken port directly.
            source = self._server.create_source(None)
        except self._glib.Error as exc:
            raise SimulatorError(f"cannot serve RTSP on {self._host}:{self._port}: {exc.message}") from exc
        self._port = self._server.get_bound_port()
        self._context = self._glib.MainContext.new()
        self._loop = self._glib.MainLoop.new(self._context, False)
        source.attach(self._context)
        self._source = source
        self._thread = threading.Thread(target=self._run, name="rtsp-simulator", daemon=True)
        self._thread.start()
        logger.info(
            "RTSP simulator listening on %s:%s with %s cameras", self._host, self._port, len(self.urls)
        )

    def stop(self) -> None:
        """Close the listening socket and every viewer's connection; cameras stay configured."""
        thread = self._thread
        if thread is None:
            return
        self._call_in_loop(self._shutdown)
        self._loop.quit()
        thread.join(10)
        self._thread = None
        logger.info("RTSP simulator on port %s stopped", self._port)

    def __enter__(self) -> CameraSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        # The server attaches each client's I/O to the thread-default context, so this thread owns it.
        self._context.push_thread_default()
        pool = self._server.get_session_pool()
        reaper = self._glib.timeout_source_new_seconds(_REAP_EVERY_S)
        # A viewer that vanishes without TEARDOWN (killed, crashed) leaves its session in the pool; the
        # pool only drops expired sessions when asked, so ask regularly.
        reaper.set_callback(lambda *_: pool.cleanup() >= 0)
        reaper.attach(self._context)
        try:
            self._loop.run()
            self._settle()
            self._drain()
            # Removing a session whose pipeline still sends aborts inside gst-rtsp-server 1.22
            # (rtsp-client.c get_data_seq assertion, seen when 255 viewers were stopped at once), so any
            # pipeline still running is stopped first.
            with self._lock:
                media = list(self._media.values())
            logger.debug("stopping %s pipelines, %s sessions left", len(media), pool.get_n_sessions())
            for item in media:
                item.unprepare()
            self._drain()
            pool.filter(lambda *_: self._rtsp.RTSPFilterResult.REMOVE)
            self._drain()
        finally:
            reaper.destroy()
            self._context.pop_thread_default()

    def _settle(self) -> None:
        """Run the loop until the closed connections have stopped their pipelines (or a few seconds
        pass): under load the clean-up of hundreds of connections takes a while, and stopping a
        pipeline that still has viewers attached makes GStreamer complain about elements left playing."""
        wake = self._glib.timeout_source_new(100)
        wake.set_callback(lambda *_: True)  # iteration(True) must not block past the deadline
        wake.attach(self._context)
        deadline = time.monotonic() + _SETTLE_S
        # Bounded in iterations too: once, under heavy load, a closed connection's watch kept firing
        # (GLib-GIO-CRITICAL "G_IS_POLLABLE_INPUT_STREAM" in a tight loop) until the deadline.
        for _ in range(_SETTLE_ITERATIONS):
            with self._lock:
                if not self._media or time.monotonic() > deadline:
                    break
            self._context.iteration(True)
        wake.destroy()

    def _drain(self) -> None:
        """Dispatch what is ready now (bounded, for the reason given in ``_settle``)."""
        for _ in range(_SETTLE_ITERATIONS):
            if not self._context.iteration(False):
                break

    def _call_in_loop(self, func: Callable[[], None], timeout: float = 10.0) -> None:
        """Run ``func`` on the server's main loop thread and wait for it (GstRTSP objects live there)."""
        if threading.current_thread() is self._thread:
            func()
            return
        done = threading.Event()
        errors: list[BaseException] = []

        def call(*_: object) -> bool:
            try:
                func()
            except Exception as exc:
                errors.append(exc)
            finally:
                done.set()
            return False

        self._context.invoke_full(self._glib.PRIORITY_DEFAULT, call)
        if not done.wait(timeout):
            raise SimulatorError("the RTSP simulator's main loop did not respond")
        if errors:
            raise errors[0]

    def _shutdown(self) -> None:
        remove = self._rtsp.RTSPFilterResult.REMOVE
        self._source.destroy()  # closes the listening socket: new connects are refused at once
        self._source = None
        self._server.client_filter(lambda *_: remove)

    def _drop_clients(self, mount: str) -> None:
        rtsp = self._rtsp
        dropped = 0

        def drop_watchers(_server: Any, client: Any, *_: object) -> Any:
            nonlocal dropped
            sessions = client.session_filter(lambda *_: rtsp.RTSPFilterResult.REF)
            if any(session.get_media(mount)[0] is not None for session in sessions):
                dropped += 1
                return rtsp.RTSPFilterResult.REMOVE
            return rtsp.RTSPFilterResult.KEEP

        self._server.client_filter(drop_watchers)
        logger.debug("camera %s removed; %s viewers dropped", mount, dropped)

    def _on_media_configure(self, _factory: Any, media: Any) -> None:
        gst = self._gst

        def restamp(_pad: Any, info: Any) -> Any:
            buffer = info.get_buffer()
            buffer.pts = buffer.dts
            return gst.PadProbeReturn.OK

        parser = media.get_element().get_by_name("parse")
        parser.get_static_pad("src").add_probe(gst.PadProbeType.BUFFER, restamp)
        key = id(media)
        with self._lock:
            self._media[key] = media
        media.connect("unprepared", lambda *_: self._forget_media(key))

    def _forget_media(self, key: int) -> None:
        with self._lock:
            self._media.pop(key, None)
