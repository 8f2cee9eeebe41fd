"""Standalone RTSP server for simulated cameras, run by Debian's /usr/bin/python3.

It imports only the standard library and GObject introspection (python3-gi,
gir1.2-gst-rtsp-server-1.0), because the project's venv cannot import gi.
`camhub.sim.rtsp.RtspServer` starts it with one JSON argument:

    {"host": "127.0.0.1", "port": 0, "loop_start": <epoch s>,
     "credentials": null | ["user", "password"],
     "mounts": [{"path": "/cam/main", "codec": "h264", "annexb": "...",
                 "index": "..."}, ...]}

Each mount serves pre-encoded access units from an Annex-B file and its JSON
index, without re-encoding: appsrc -> h264parse/h265parse -> rtph26Xpay.
Every client gets its own pipeline that starts at the keyframe at or before
the current loop position and plays in real time from there (so it runs up to
one GOP behind the wall-clock loop position), with timestamps that keep
increasing across loops. Mounts given the same `"share"` key instead serve one
pipeline to all their clients, as a camera's encoder does: a client joins it
where it is, mid-GOP if so. That costs the server one pipeline per key instead
of one per client, which is how a benchmark of many cameras keeps the server's
load off the machine it measures. A pipeline's frames go out on its own clock,
which starts when its first client plays, so clients of different pipelines get
their frames at different moments within a frame interval. When listening it
prints `READY <port>` on stdout. It exits when stdin closes, so it never
outlives the process that started it.
"""

import json
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


class Stream:
    """One Annex-B file and its access-unit index, shared by all its clients."""

    def __init__(self, mount: dict[str, str], loop_start: float) -> None:
        with open(mount["index"]) as fh:
            meta = json.load(fh)
        with open(mount["annexb"], "rb") as fh:
            self.data = fh.read()
        self.frames = meta["frames"]
        self.fps = int(meta["fps"])
        self.width = int(meta["width"])
        self.height = int(meta["height"])
        self.codec = meta["codec"]
        self.loop_start = loop_start
        self.keyframes = [i for i, f in enumerate(self.frames) if f[2]]

    def launch(self) -> str:
        if self.codec == "h264":
            caps, parse, pay = "video/x-h264", "h264parse", "rtph264pay"
        else:
            caps, parse, pay = "video/x-h265", "h265parse", "rtph265pay"
        caps += (
            f",stream-format=byte-stream,alignment=au,width={self.width},height={self.height},framerate={self.fps}/1"
        )
        return (
            f"( appsrc name=src is-live=true format=time do-timestamp=false "
            f'max-bytes=0 caps="{caps}" ! {parse} ! '
            f"{pay} name=pay0 pt=96 config-interval=-1 )"
        )

    def absolute_frame_now(self) -> int:
        return int((time.time() - self.loop_start) * self.fps)

    def start_frame(self) -> int:
        """Absolute frame number of the keyframe at or before the loop position."""
        now = self.absolute_frame_now()
        pos = now % len(self.frames)
        key = max((k for k in self.keyframes if k <= pos), default=self.keyframes[0])
        return now - (pos - key)


class Feeder:
    """Pushes one client's access units into its appsrc at real-time pace."""

    def __init__(self, stream: Stream, appsrc: Gst.Element) -> None:
        self.stream = stream
        self.appsrc = appsrc
        self.first = stream.start_frame()
        self.next = self.first
        appsrc.connect("need-data", self.on_need_data)

    def on_need_data(self, src: Gst.Element, _length: int) -> None:
        s = self.stream
        # Units already due are pushed at once; later ones wait for their
        # wall-clock time. The RTSP sinks sync to the pipeline clock, so a new
        # client still gets the units from the keyframe on at real-time pace:
        # a smooth frame rate, at most one GOP behind the loop position.
        due = s.loop_start + self.next / s.fps
        delay = due - time.time()
        if delay > 0:
            # appsrc waits for a push after need-data, so never return empty-handed.
            time.sleep(delay)
        n = self.next % len(s.frames)
        offset, size = s.frames[n][0], s.frames[n][1]
        buf = Gst.Buffer.new_wrapped(s.data[offset : offset + size])
        duration = Gst.SECOND // s.fps
        buf.pts = buf.dts = (self.next - self.first) * duration
        buf.duration = duration
        if not s.frames[n][2]:
            buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
        self.next += 1
        src.emit("push-buffer", buf)


class Factory(GstRtspServer.RTSPMediaFactory):  # type: ignore[misc]  # gi has no stubs: the base is Any
    def __init__(self, stream: Stream) -> None:
        super().__init__()
        self.stream = stream
        self.set_shared(False)
        self.set_launch(stream.launch())
        self.connect("media-configure", self.on_configure)

    def on_configure(self, _factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia) -> None:
        appsrc = media.get_element().get_by_name_recurse_up("src")
        media.feeder = Feeder(self.stream, appsrc)  # keep alive as long as the media


class SharedFactory(Factory):
    """One pipeline for every client of every mount with the same share key."""

    def __init__(self, stream: Stream, key: str) -> None:
        super().__init__(stream)
        self.key = key
        self.set_shared(True)

    def do_gen_key(self, _url: object) -> str:
        return self.key  # the media is cached by this key, so all the mounts find the same one


def make_auth(user: str, password: str) -> GstRtspServer.RTSPAuth:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    # Basic only: the GIR types the method set as a plain enum, so the
    # BASIC|DIGEST mask cannot be passed from Python.
    auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
    return auth


def main() -> int:
    config = json.loads(sys.argv[1])
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(config["host"])
    server.set_service(str(config["port"]))
    credentials = config.get("credentials")
    if credentials:
        server.set_auth(make_auth(*credentials))
    mounts = server.get_mount_points()
    shared: dict[str, Factory] = {}
    for mount in config["mounts"]:
        key = mount.get("share")
        if key is None:
            factory = Factory(Stream(mount, float(config["loop_start"])))
        elif key in shared:
            mounts.add_factory(mount["path"], shared[key])
            continue
        else:
            factory = shared[key] = SharedFactory(Stream(mount, float(config["loop_start"])), key)
        if credentials:
            factory.add_role_from_structure(
                Gst.Structure.new_from_string(
                    "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
                )
            )
        mounts.add_factory(mount["path"], factory)
    if server.attach(None) == 0:
        print(f"ERROR cannot listen on {config['host']}:{config['port']}", flush=True)
        return 2
    loop = GLib.MainLoop()

    # Exit when the parent closes our stdin (or dies): never outlive it.
    def watch_stdin() -> None:
        sys.stdin.buffer.read()
        GLib.idle_add(loop.quit)

    threading.Thread(target=watch_stdin, daemon=True).start()
    # Drop sessions of clients that vanished without TEARDOWN.
    GLib.timeout_add_seconds(2, lambda: server.get_session_pool().cleanup() >= 0)
    print(f"READY {server.get_bound_port()}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
