"""The RTP depacketisers (integrations/rtsp/depay.py) against real H.264 and H.265 from libx264 and libx265.

Each test packetises encoder output with the test's own RFC 6184/7798
packetiser (tests/rtp_media.py), damages or decorates the packets as a camera
or a network might, pushes them through the depacketiser and checks what a
viewer would get: the access units byte for byte, their keyframe flags and
timestamps, and that FFmpeg decodes them into the frames that were encoded.
"""

from __future__ import annotations

import struct

import av
import pytest

from camhub.integrations.rtsp.depay import (
    MAX_PARTS,
    Depacketiser,
    H264Depacketiser,
    H265Depacketiser,
    Unit,
    UnitTooLarge,
)

from ..rtp_media import (
    FRAMES,
    HEIGHT,
    TICKS,
    WIDTH,
    AccessUnit,
    encoded,
    h264_type,
    h265_type,
    packetise,
    payloads,
    rtp,
)

CODECS = ("h264", "hevc")
DEPACKETISERS: dict[str, type[Depacketiser]] = {"h264": H264Depacketiser, "hevc": H265Depacketiser}


# How the tests give packets to a depacketiser: one at a time (`push`), or as the RTSP client gives a read's
# packets (`push_all`, whose few-step path for middle fragments must take them as `push` would).
READ = 5  # packets a read, for `push_all`: reads end inside units and inside fragmented NAL units
feed = "push"


@pytest.fixture(autouse=True, params=["push", "push_all"])
def each_feed(request: pytest.FixtureRequest) -> None:
    global feed
    feed = request.param


def push_all(depay: Depacketiser, packets: list[bytes]) -> list[Unit]:
    out: list[Unit] = []
    if feed == "push_all":
        for start in range(0, len(packets), READ):
            depay.push_all(packets[start : start + READ], out)
        return out
    for packet in packets:
        depay.push(packet, out)
    return out


def flat(packetised: list[tuple[int, list[bytes]]]) -> list[bytes]:
    return [p for _, packets in packetised for p in packets]


def decode(codec: str, units: list[Unit]) -> list[av.VideoFrame]:
    decoder = av.CodecContext.create(codec, "r")
    frames: list[av.VideoFrame] = []
    for unit in units:
        frames += decoder.decode(av.Packet(unit.data))  # type: ignore[arg-type]
    frames += decoder.decode(None)  # type: ignore[arg-type]
    return frames


def irap(codec: str, unit: AccessUnit) -> bool:
    if codec == "h264":
        return any(h264_type(n) == 5 for n in unit.nals)
    return any(16 <= h265_type(n) <= 21 for n in unit.nals)


def with_marker(packet: bytes, marker: bool) -> bytes:
    return packet[:1] + bytes([(packet[1] & 0x7F) | (0x80 if marker else 0)]) + packet[2:]


def with_seq(packet: bytes, seq: int) -> bytes:
    return packet[:2] + struct.pack("!H", seq & 0xFFFF) + packet[4:]


def renumbered(packets: list[bytes], seq: int) -> list[bytes]:
    return [with_seq(p, seq + i) for i, p in enumerate(packets)]


@pytest.mark.parametrize("codec", CODECS)
def test_units_come_back_byte_identical_with_keyframes_and_timestamps(codec: str) -> None:
    units = encoded(codec)
    packetised = packetise(codec, units)
    # The stream exercises every payload kind: aggregates, fragments, whole NAL units.
    assert any(len(packets) > 10 for _, packets in packetised) and any(len(p) <= 2 for _, p in packetised)
    depay = DEPACKETISERS[codec]()
    out = push_all(depay, flat(packetised))
    assert [u.data for u in out] == [u.annex_b for u in units]
    assert [u.timestamp for u in out] == [ts for ts, _ in packetised]
    assert [u.keyframe for u in out] == [u.keyframe for u in units] == [irap(codec, u) for u in units]
    assert sum(u.keyframe for u in out) == FRAMES // 10
    assert (depay.dropped, depay.ignored) == (0, 0)
    frames = decode(codec, out)
    assert len(frames) == FRAMES
    assert {(f.width, f.height) for f in frames} == {(WIDTH, HEIGHT)}


@pytest.mark.parametrize("codec", CODECS)
def test_small_mtu_many_fragments(codec: str) -> None:
    units = encoded(codec)[:3]
    packets: list[bytes] = []
    for i, unit in enumerate(units):
        parts = payloads(codec, unit, mtu=100)
        packets += [rtp(p, 0, 3000 * i, j == len(parts) - 1) for j, p in enumerate(parts)]
    out = push_all(DEPACKETISERS[codec](), renumbered(packets, 7))
    assert [u.data for u in out] == [u.annex_b for u in units]


@pytest.mark.parametrize("codec", CODECS)
def test_units_spanning_reads_of_one_reused_buffer_are_whole_after_keep(codec: str) -> None:
    """As the RTSP client reads: each packet a view of one buffer, overwritten by the next read; `keep` at the
    end of each read copies out what an unfinished unit holds. Without it the units would hold the later
    reads' bytes (checked: the same run without `keep` damages them)."""
    units = encoded(codec)
    packets = flat(packetise(codec, units))
    for keeping in (True, False):
        depay, out = DEPACKETISERS[codec](), []
        buffer = bytearray(max(map(len, packets)) * 7)
        for start in range(0, len(packets), 7):  # seven packets a read: units are cut between reads
            pos = 0
            views = []
            for packet in packets[start : start + 7]:
                buffer[pos : pos + len(packet)] = packet
                views.append(memoryview(buffer)[pos : pos + len(packet)])
                pos += len(packet)
            if feed == "push_all":
                depay.push_all(views, out)
            else:
                for view in views:
                    depay.push(view, out)
            if keeping:
                depay.keep()
            buffer[:] = bytes(len(buffer))  # the next read overwrites it
        got = [u.data for u in out]
        if keeping:
            assert got == [u.annex_b for u in units]
            assert len(decode(codec, out)) == FRAMES
        else:
            assert got != [u.annex_b for u in units]


@pytest.mark.parametrize("codec", CODECS)
def test_a_lost_marker_bit_completes_the_unit_at_the_next_timestamp(codec: str) -> None:
    units = encoded(codec)
    packetised = packetise(codec, units)
    for k in (0, 4):  # a fragmented keyframe and a small predicted frame
        packetised[k][1][-1] = with_marker(packetised[k][1][-1], False)
    depay = DEPACKETISERS[codec]()
    out = push_all(depay, flat(packetised))
    assert [u.data for u in out] == [u.annex_b for u in units]
    assert [u.timestamp for u in out] == [ts for ts, _ in packetised]
    assert out[0].keyframe and depay.dropped == 0


@pytest.mark.parametrize("codec", CODECS)
def test_a_sequence_gap_inside_a_fragment_drops_that_unit_only(codec: str) -> None:
    units = encoded(codec)
    packetised = packetise(codec, units)
    ts, keyframe_packets = packetised[10]
    assert len(keyframe_packets) > 10
    del keyframe_packets[5]  # the middle of a fragmented slice
    depay = DEPACKETISERS[codec]()
    out = push_all(depay, flat(packetised))
    assert ts not in [u.timestamp for u in out]
    expected = units[:10] + units[11:]
    assert [u.data for u in out] == [u.annex_b for u in expected]
    assert depay.dropped == 1


@pytest.mark.parametrize("codec", CODECS)
def test_a_fragment_without_its_start_drops_the_unit(codec: str) -> None:
    units = encoded(codec)
    packetised = packetise(codec, units)
    _, keyframe_packets = packetised[0]
    fu_type = 28 if codec == "h264" else 49
    kind = h264_type if codec == "h264" else h265_type
    first_fragment = next(i for i, p in enumerate(keyframe_packets) if kind(p[12:]) == fu_type)
    del keyframe_packets[first_fragment]
    # Numbered without a gap: the unit is refused for the missing start alone.
    packets = renumbered(flat(packetised), 500)
    depay = DEPACKETISERS[codec]()
    out = push_all(depay, packets)
    assert [u.data for u in out] == [u.annex_b for u in units[1:]]
    assert depay.dropped == 1


def test_a_stap_a_with_a_size_past_its_end_drops_the_unit() -> None:
    units = encoded("h264")
    packetised = packetise("h264", units)
    stap = bytearray(packetised[0][1][0])
    assert stap[12] & 0x1F == 24
    stap[13:15] = struct.pack("!H", len(stap))  # the first NAL unit's size runs past the packet
    packetised[0][1][0] = bytes(stap)
    depay = H264Depacketiser()
    out = push_all(depay, flat(packetised))
    assert [u.data for u in out] == [u.annex_b for u in units[1:]]
    assert depay.dropped == 1


@pytest.mark.parametrize("size", [0, 1])
def test_an_h265_aggregate_with_a_bad_size_drops_the_unit(size: int) -> None:
    units = encoded("hevc")
    packetised = packetise("hevc", units)
    ap = bytearray(packetised[0][1][0])
    assert h265_type(ap[12:]) == 48
    ap[14:16] = struct.pack("!H", size)  # shorter than a NAL unit header
    packetised[0][1][0] = bytes(ap)
    depay = H265Depacketiser()
    out = push_all(depay, flat(packetised))
    assert [u.data for u in out] == [u.annex_b for u in units[1:]]
    assert depay.dropped == 1


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize(
    "decoration",
    [
        {"padding": 1},
        {"padding": 7},
        {"csrcs": 3},
        {"extension": b"\x10\xab\xcd\x00"},
        {"csrcs": 15, "extension": bytes(12), "padding": 255},
    ],
    ids=["padding-1", "padding-7", "csrcs", "extension", "all"],
)
def test_padding_csrcs_and_header_extensions_are_skipped(codec: str, decoration: dict[str, object]) -> None:
    units = encoded(codec)[:12]
    packets: list[bytes] = []
    seq = 0
    for i, unit in enumerate(units):
        parts = payloads(codec, unit)
        for j, part in enumerate(parts):
            packets.append(rtp(part, seq, i * TICKS, j == len(parts) - 1, **decoration))  # type: ignore[arg-type]
            seq += 1
    depay = DEPACKETISERS[codec]()
    out = push_all(depay, packets)
    assert [u.data for u in out] == [u.annex_b for u in units]
    assert (depay.dropped, depay.ignored) == (0, 0)


def test_a_nal_unit_in_more_fragments_than_max_parts_is_held_in_few_parts_and_comes_whole() -> None:
    """A camera cutting a NAL unit into one-byte fragments: the unfinished unit's parts are joined every
    MAX_PARTS, so its bookkeeping stays near its size, and the unit is whole at the end."""
    nal = bytes([0x65]) + bytes(range(256)) * 12  # an IDR slice, 3,073 bytes
    body = nal[1:]
    indicator, kind = (nal[0] & 0xE0) | 28, nal[0] & 0x1F
    packets = [
        rtp(bytes([indicator, (0x80 if i == 0 else 0x40 if i == len(body) - 1 else 0) | kind, byte]), i, 0, False)
        for i, byte in enumerate(body)
    ]
    packets[-1] = with_marker(packets[-1], True)
    depay = H264Depacketiser()
    held = push_all(depay, packets[:-1])
    assert held == []
    assert len(depay._parts) <= MAX_PARTS + 2  # noqa: SLF001: the bound is on the unit's inner list
    out = push_all(depay, packets[-1:])
    assert [u.data for u in out] == [b"\x00\x00\x00\x01" + nal]
    assert out[0].keyframe


@pytest.mark.parametrize("codec", CODECS)
def test_a_unit_over_max_unit_is_refused(codec: str) -> None:
    units = encoded(codec)
    keyframe = len(units[0].annex_b)
    depay = DEPACKETISERS[codec](max_unit=keyframe - 1)
    with pytest.raises(UnitTooLarge, match="bound"):
        push_all(depay, flat(packetise(codec, units[:1])))
    # At the bound itself, the unit is taken.
    out = push_all(DEPACKETISERS[codec](max_unit=keyframe), flat(packetise(codec, units[:1])))
    assert [u.data for u in out] == [units[0].annex_b]


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("version", [0, 1, 3])
def test_packets_not_of_rtp_version_2_are_ignored(codec: str, version: int) -> None:
    units = encoded(codec)[:12]
    packets: list[bytes] = []
    for ts, unit_packets in packetise(codec, units):
        for packet in unit_packets:
            # A packet of another version before each, with a sequence number and timestamp far off.
            packets.append(rtp(b"\x65" + bytes(40), 40_000, ts + 12345, True, version=version))
            packets.append(packet)
    packets += [b"", b"\x80", bytes(11)]  # shorter than an RTP header
    depay = DEPACKETISERS[codec]()
    out = push_all(depay, packets)
    assert [u.data for u in out] == [u.annex_b for u in units]
    assert depay.dropped == 0
    assert depay.ignored == len(packets) - sum(len(p) for _, p in packetise(codec, units))


@pytest.mark.parametrize("codec", CODECS)
def test_sequence_and_timestamp_wrap_are_not_gaps(codec: str) -> None:
    units = encoded(codec)
    packetised = packetise(codec, units, seq=65_535 - 70, timestamp=(1 << 32) - 5 * TICKS)
    seqs = [(p[2] << 8) | p[3] for p in flat(packetised)]
    assert 65_535 in seqs and 0 in seqs
    depay = DEPACKETISERS[codec]()
    out = push_all(depay, flat(packetised))
    assert [u.data for u in out] == [u.annex_b for u in units]
    assert [u.timestamp for u in out] == [ts for ts, _ in packetised]
    assert out[4].timestamp > out[5].timestamp  # the 32-bit timestamp wrapped too
    assert depay.dropped == 0


@pytest.mark.parametrize("codec", CODECS)
def test_a_gap_between_units_drops_the_unit_it_falls_in(codec: str) -> None:
    """The first packet of keyframe 20 is lost (the marker on unit 19 came): unit 20 is dropped, 21 is whole."""
    units = encoded(codec)
    packetised = packetise(codec, units)
    _, packets = packetised[20]
    del packets[0]  # the parameter sets
    depay = DEPACKETISERS[codec]()
    out = push_all(depay, flat(packetised))
    assert [u.data for u in out] == [u.annex_b for u in units[:20] + units[21:]]
    assert depay.dropped == 1


def test_a_unit_whose_last_packet_is_lost_is_not_handed_on_half_built() -> None:
    codec = "h264"
    # x264 cuts each frame into slices; unit 1 is two slices sent whole, the second with the marker.
    units = encoded(codec)
    packetised = packetise(codec, units)
    _, packets = packetised[1]
    assert len(packets) == 2 and h264_type(packets[1][12:]) == 1
    del packets[1]
    depay = DEPACKETISERS[codec]()
    out = push_all(depay, flat(packetised))
    handed = [u.data for u in out]
    assert units[1].annex_b[: len(units[1].nals[0]) + 4] not in handed  # no unit with one slice of two
    assert units[2].annex_b in handed  # the next unit came whole


@pytest.mark.parametrize("codec", CODECS)
def test_a_fragment_without_its_end_drops_the_unit(codec: str) -> None:
    """The end of keyframe 10's first fragmented NAL unit is lost (numbered without a gap): unit 10 is dropped."""
    units = encoded(codec)
    packetised = packetise(codec, units)
    _, keyframe_packets = packetised[10]
    fu_type = 28 if codec == "h264" else 49
    kind = h264_type if codec == "h264" else h265_type
    fu_header = 13 if codec == "h264" else 14
    end = next(
        i
        for i, p in enumerate(keyframe_packets)
        if kind(p[12:]) == fu_type and p[fu_header] & 0x40 and i < len(keyframe_packets) - 1
    )
    del keyframe_packets[end]
    depay = DEPACKETISERS[codec]()
    out = push_all(depay, renumbered(flat(packetised), 0))
    assert [u.data for u in out] == [u.annex_b for u in units[:10] + units[11:]]
    assert depay.dropped == 1


def test_a_stap_a_with_a_zero_size_drops_the_unit() -> None:
    units = encoded("h264")
    packetised = packetise("h264", units)
    stap = bytearray(packetised[0][1][0])
    stap[13:15] = b"\x00\x00"
    packetised[0][1][0] = bytes(stap)
    depay = H264Depacketiser()
    out = push_all(depay, flat(packetised))
    assert [u.data for u in out] == [u.annex_b for u in units[1:]]
    assert depay.dropped == 1


@pytest.mark.parametrize("codec", CODECS)
def test_a_fragment_too_short_for_its_header_drops_the_unit(codec: str) -> None:
    units = encoded(codec)
    packetised = packetise(codec, units)
    ts, packets = packetised[3]
    short = bytes([0x7C]) if codec == "h264" else bytes([49 << 1, 1])  # no FU header
    packets.insert(0, rtp(short, 0, ts, False))
    depay = DEPACKETISERS[codec]()
    out = push_all(depay, renumbered(flat(packetised), 0))
    assert [u.data for u in out] == [u.annex_b for u in units[:3] + units[4:]]
    assert depay.dropped == 1


@pytest.mark.parametrize("codec", CODECS)
def test_a_padding_only_packet_is_not_a_gap(codec: str) -> None:
    """RFC 3550 5.1 allows a packet of padding alone; it is one of the stream's packets, numbered in turn."""
    units = encoded(codec)[:12]
    packetised = packetise(codec, units)
    ts, packets = packetised[5]
    packets.append(rtp(b"", 0, ts, False, padding=8))  # after unit 5's last, before unit 6
    depay = DEPACKETISERS[codec]()
    out = push_all(depay, renumbered(flat(packetised), 0))
    assert [u.data for u in out] == [u.annex_b for u in units]
    assert depay.dropped == 0
