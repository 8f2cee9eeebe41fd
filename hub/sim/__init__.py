"""Simulated cameras: scenes as data, rendered once, served over RTSP and HTTP.

See docs/simulator.md. The public pieces:

- `hub.sim.scene`: `Scene` and friends, `BUILTIN_SCENES`, ground truth;
- `hub.sim.render`: `render_scene` (cached H.264/HEVC + JPEG renders);
- `hub.sim.http_server`: `SimHttpServer` (MJPEG, snapshot, Annex-B streams);
- `hub.sim.rtsp`: `RtspServer`, `rtsp_available` (Debian's GstRtspServer);
- `hub.sim.simulator`: `Simulator`, `SimCamera`, `serve_forever`, `run_sim`;
- `hub.sim.loop_thread`: `LoopThread`, to host async servers beside sync code.
"""
