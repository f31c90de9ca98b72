"""Console views of channels in Asterisk's shapes (ASTERISK-REFERENCE §4.2).

``core show channels [concise|verbose|count]``, ``core show calls``, ``sip show channels`` and
``sip show channelstats``: pure formatting over live channels, so the columns are testable.
"""

from __future__ import annotations

from collections.abc import Sequence

from pbx.call.channel import Channel


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _app(channel: Channel) -> str:
    return f"{channel.application}({channel.app_data})" if channel.application else "(None)"


def _location(channel: Channel) -> str:
    if channel.outbound and not channel.application:
        return "(None)"
    return f"{channel.exten}@{channel.context}:{channel.priority}"


def footer(channels: Sequence[Channel], calls_processed: int) -> list[str]:
    calls = sum(1 for c in channels if not c.outbound)
    return [
        _plural(len(channels), "active channel", "active channels"),
        _plural(calls, "active call", "active calls"),
        _plural(calls_processed, "call processed", "calls processed"),
    ]


def show_channels(
    channels: Sequence[Channel], calls_processed: int, now: float, mode: str = ""
) -> str:
    if mode == "count":
        return "\n".join(footer(channels, calls_processed)) + "\n"
    if mode == "concise":
        lines = []
        for c in channels:
            bridged = c.bridged_to.name if c.bridged_to is not None else ""
            lines.append("!".join([
                c.name, c.context, c.exten, str(c.priority), c.state, c.application or "(None)",
                c.app_data, c.caller_id_num, c.account_code, "", "3",
                str(int(now - c.created_at)), bridged, c.uniqueid,
            ]))  # fmt: skip
        return "".join(line + "\n" for line in lines)
    if mode == "verbose":
        fmt = "{:<32.32} {:<20.20} {:<20.20} {:>4} {:<7.7} {:<12.12} {:<25.25} {:<15.15} {:>8} {:<11.11} {:<11.11} {:<20.20}"  # noqa: E501
        head = fmt.format(
            "Channel",
            "Context",
            "Extension",
            "Prio",
            "State",
            "Application",
            "Data",
            "CallerID",
            "Duration",
            "Accountcode",
            "PeerAccount",
            "BridgedTo",
        )
        rows = [
            fmt.format(
                c.name,
                c.context,
                c.exten,
                c.priority,
                c.state,
                c.application or "(None)",
                c.app_data,
                c.caller_id_num,
                _duration(now - c.created_at),
                c.account_code,
                "",
                c.bridged_to.name if c.bridged_to else "",
            )
            for c in channels
        ]
        return (
            "\n".join(
                [head.rstrip(), *[r.rstrip() for r in rows], *footer(channels, calls_processed)]
            )
            + "\n"
        )
    fmt = "{:<32.32} {:<25.25} {:<7.7} {:<30.30}"
    lines = [fmt.format("Channel", "Location", "State", "Application(Data)").rstrip()]
    for c in channels:
        lines.append(fmt.format(c.name, _location(c), c.state, _app(c)).rstrip())
    lines += footer(channels, calls_processed)
    return "\n".join(lines) + "\n"


def show_calls(channels: Sequence[Channel], calls_processed: int) -> str:
    return "\n".join(footer(channels, calls_processed)[1:]) + "\n"


def show_sip_channels(channels: Sequence[Channel]) -> str:
    fmt = "{:<15.15}  {:<15.15}  {:<15.15}  {:<15.15}  {:<7.7}  {:<15.15}  {:<10.10}  {:<10.10}"
    lines = [
        fmt.format(
            "Peer", "User/ANR", "Call ID", "Format", "Hold", "Last Message", "Expiry", "Peer"
        ).rstrip()
    ]
    count = 0
    for c in channels:
        leg = c.tech_pvt
        if leg is None or leg.dialog is None:
            continue
        count += 1
        media = c.media
        codec = f"({media.codec})" if media is not None and media.codec else "(nothing)"
        remote = leg.dialog.flow.remote.host
        hold = "Yes" if getattr(leg, "hold_remote", False) else "No"
        lines.append(
            fmt.format(
                remote,
                c.caller_id_num or c.peer_name,
                leg.dialog.call_id,
                codec,
                hold,
                leg.last_message,
                "",
                c.peer_name,
            ).rstrip()
        )
    lines.append(_plural(count, "active SIP dialog", "active SIP dialogs"))
    return "\n".join(lines) + "\n"


def show_channelstats(channels: Sequence[Channel], now: float) -> str:
    fmt = "{:<15.15} {:<12.12} {:<8.8} {:<10.10} {:<10.10} ({:<6.6}) {:<7.7} {:<10.10} {:<10.10} ({:<6.6}) {:<7.7} {:<6.6}"  # noqa: E501
    head = fmt.format(
        "Peer",
        "Call ID",
        "Duration",
        "Recv: Pack",
        "Lost",
        "%",
        "Jitter",
        "Send: Pack",
        "Lost",
        "%",
        "Jitter",
        "RTT",
    )
    lines = [head.rstrip()]
    count = 0
    for c in channels:
        leg = c.tech_pvt
        media = c.media
        if leg is None or leg.dialog is None or media is None:
            continue
        count += 1
        st = media.stats()
        peer = str(st.remote_address[0]) if st.remote_address is not None else "(none)"
        rtt = f"{st.rtt:.4f}" if st.rtt is not None else "-"
        lines.append(fmt.format(
            peer, leg.dialog.call_id, _duration(now - c.created_at),
            f"{st.rx_packets:010d}", f"{st.rx_lost:010d}", f"{st.rx_loss_percent:5.2f}%",
            f"{st.rx_jitter:.4f}", f"{st.tx_packets:010d}", f"{st.tx_lost:010d}",
            f"{st.tx_loss_percent:5.2f}%", f"{st.tx_jitter:.4f}", rtt,
        ).rstrip())  # fmt: skip
        extras = [f"codec {st.codec}"]
        if st.ice_state:
            extras.append(f"ICE {st.ice_state}")
        if st.dtls_state:
            extras.append(f"DTLS {st.dtls_state}")
        if st.srtp_profile:
            extras.append(f"SRTP {st.srtp_profile}")
        lines.append("    " + ", ".join(extras) + f"  [{c.name}]")
    lines.append(_plural(count, "active SIP channel", "active SIP channels"))
    return "\n".join(lines) + "\n"
