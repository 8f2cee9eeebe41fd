"""Simulated cameras: scenes as data, rendered once, served over RTSP and HTTP.

See docs/simulator.md. The public pieces:

- `camhub.sim.scene`: `Scene` and friends, `BUILTIN_SCENES`, ground truth;
- `camhub.sim.render`: `render_scene` (cached H.264/HEVC + JPEG renders);
- `camhub.sim.http_server`: `SimHttpServer` (MJPEG, snapshot, Annex-B streams);
- `camhub.sim.rtsp`: `RtspServer`, `rtsp_available` (Debian's GstRtspServer);
- `camhub.sim.simulator`: `Simulator`, `SimCamera`, `serve_forever`, `run_sim`;
- `camhub.sim.loop_thread`: `LoopThread`, to host async servers beside sync code.
"""
