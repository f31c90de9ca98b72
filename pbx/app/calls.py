"""Wiring of the call side: dialplan + engine, the SIP technology, Dial, channels, CDRs.

:class:`CallService` owns the live dialplan (``dialplan reload`` swaps it only when the new one
has no errors; calls in progress keep theirs), the channel list behind ``core show channels``
and the CDR of every call that reached the dialplan.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pbx.adapters.cdr_writer import CdrWriter
from pbx.call.cdr import build_record
from pbx.call.channel import Channel, SoundLibrary
from pbx.call.dial import SipDialer
from pbx.call.sip_calls import CallHooks, SipCalls
from pbx.call.sip_leg import LegContext
from pbx.core import causes
from pbx.dialplan import parser as dialplan_parser
from pbx.dialplan.apps import default_applications
from pbx.dialplan.engine import Engine, RunResult
from pbx.dialplan.execution import reload_globals
from pbx.dialplan.model import Dialplan

if TYPE_CHECKING:
    from pbx.app.service import Pbx
    from pbx.call.media import MediaFactory

log = logging.getLogger(__name__)


class AstDb:
    """The dialplan's ``DB()`` store over the daemon's SQLite ``astdb`` table."""

    def __init__(self, pbx: Pbx) -> None:
        self._store = pbx.store

    def get(self, family: str, key: str) -> str | None:
        return self._store.db_get(family, key)

    def put(self, family: str, key: str, value: str) -> None:
        self._store.db_put(family, key, value)

    def delete(self, family: str, key: str) -> bool:
        return self._store.db_delete(family, key)


def load_dialplan(config_dir: str) -> dialplan_parser.LoadResult:
    names = [app.name for app in default_applications()]
    return dialplan_parser.load(config_dir, applications=names)


class CallService:
    def __init__(
        self,
        pbx: Pbx,
        dialplan: Dialplan,
        media: MediaFactory,
        bridge: Any,
        sounds: SoundLibrary | None,
    ) -> None:
        self.pbx = pbx
        self.dialplan = dialplan
        self.channels: list[Channel] = []
        self.calls_processed = 0
        reactor = pbx.reactor
        self.engine = Engine.create(
            reactor, globals=dict(dialplan.globals), db=AstDb(pbx), peers=self._sippeer
        )
        self.cdr = CdrWriter(pbx.settings.cdr, reactor)
        self.dialer = SipDialer(reactor, bridge)
        self.dialer.on_transferred = self._transferred
        ctx = LegContext(
            layer=pbx.layer,
            scheduler=reactor,
            tokens=pbx.tokens,
            useragent=pbx.settings.sip.general.useragent,
            advertised=pbx.hub.advertised,
            kick=pbx.kick,
            forget=lambda leg: None,
        )
        self.sip = SipCalls(
            ctx,
            pbx.peers,
            pbx.authenticator,
            media,
            CallHooks(
                start_dialplan=self._start,
                dialplan=lambda: self.dialplan,
                channel_created=self._created,
                call_refused=self._refused,
            ),
            self.dialer,
            sounds,
            pbx.hub.flow_to,
        )
        self.dialer.sip = self.sip
        pbx.endpoint.call_handler = self.sip.handle
        pbx.endpoint.stray_response = self.sip.response_without_transaction

    # -- channels ------------------------------------------------------------------------------
    def _created(self, channel: Channel) -> None:
        self.channels.append(channel)
        channel.on_state.append(self._state_changed)

    def _state_changed(self, channel: Channel) -> None:
        if channel.gone and channel in self.channels:
            self.channels.remove(channel)

    def active_calls(self) -> int:
        return sum(1 for c in self.channels if not c.outbound)

    def find(self, name: str) -> Channel | None:
        for channel in self.channels:
            if channel.name == name:
                return channel
        return None

    # -- dialplan ------------------------------------------------------------------------------
    def _start(self, channel: Channel, context: str, exten: str) -> None:
        self.calls_processed += 1
        d = self.engine.run(channel, self.dialplan, context, exten)
        d.addCallback(lambda result: self._finished(channel, result))

    def _refused(self, channel: Channel) -> None:
        self.calls_processed += 1
        try:
            self.cdr.write(
                build_record(channel, "", "", congestion=self.pbx.settings.cdr.congestion)
            )
        except Exception:
            log.exception("CDR for %s failed", channel.name)

    def _finished(self, channel: Channel, result: RunResult) -> None:
        bridged = channel.variables.get("DIALEDPEERNAME", "") or channel.last_dialed
        # The main run's last application, except that a Dial stays (see Channel.executing);
        # the h extension never counts.
        lastapp, lastdata = (
            channel.cdr_app if channel.cdr_app[0] == "Dial" else (result.lastapp, result.lastdata)
        )
        try:
            record = build_record(
                channel,
                lastapp,
                lastdata,
                dst=result.exten,
                dcontext=result.context,
                congestion=self.pbx.settings.cdr.congestion,
                initiatedseconds=self.pbx.settings.cdr.initiatedseconds,
                dstchannel=bridged,
                callee=channel.last_bridged,
            )
            self.cdr.write(record)
        except Exception:
            log.exception("CDR for %s failed", channel.name)

    def _transferred(self, caller: Channel, transferor: Channel) -> None:
        """The callee blind-transferred the caller: the CDR of the call so far ends now, and
        the caller's continuation gets its own (see :mod:`pbx.call.cdr`)."""
        lastapp, lastdata = caller.cdr_app
        try:
            record = build_record(
                caller,
                lastapp,
                lastdata,
                congestion=self.pbx.settings.cdr.congestion,
                initiatedseconds=self.pbx.settings.cdr.initiatedseconds,
                dstchannel=transferor.name,
                callee=transferor,
            )
            self.cdr.write(record)
        except Exception:
            log.exception("CDR for %s failed", caller.name)

    def reload(self) -> list[str]:
        """``dialplan reload``: errors keep the running dialplan."""
        loaded = load_dialplan(self.pbx.settings.config_dir)
        if loaded.errors:
            return [str(e) for e in loaded.errors]
        for warning in loaded.warnings:
            log.warning("%s", warning)
        reload_globals(self.engine.services.globals, loaded.dialplan)
        self.dialplan = loaded.dialplan
        return []

    def _sippeer(self, name: str, item: str) -> str | None:
        """``SIPPEER(name,item)`` as chan_sip answers it."""
        peers = self.pbx.peers
        peer = peers.get(name)
        if peer is None:
            return None
        now = self.pbx.reactor.seconds()
        bindings = peers.location.lookup(name, now)
        item = item.lower()
        values = {
            "ip": bindings[0].source.host if bindings else (peer.host or ""),
            "port": str(bindings[0].source.port) if bindings else str(peer.port),
            "status": self.pbx.qualifier.status(name),
            "context": peer.context,
            "useragent": bindings[0].user_agent if bindings else "",
            "callerid_name": peer.callerid_name,
            "callerid_num": peer.callerid_num,
            "codecs": "(" + "|".join(peer.codecs) + ")",
            "encryption": "1" if peer.encryption else "0",
            "dynamic": "yes" if peer.dynamic else "no",
            "limit": str(peer.call_limit),
            "curcalls": str(self.sip.active_calls(name)),
            "accountcode": peer.accountcode,
            "language": peer.language,
            "expire": str(bindings[0].expires_in(now)) if bindings else "-1",
            "regexten": "",
            "busylevel": str(peer.busylevel),
        }
        return values.get(item)

    def hangup_all(self) -> list[str]:
        """Hang up every channel; the names of those it hung up."""
        live = [c for c in self.channels if not c.gone]
        for channel in live:
            channel.hangup(causes.NORMAL_CLEARING)
        return [c.name for c in live]

    def close(self) -> None:
        self.cdr.close()
