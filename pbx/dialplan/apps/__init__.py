"""Dialplan applications (Answer, Dial, Playback ...) and the default registry."""

from __future__ import annotations

from pbx.dialplan.apps.assign import MSet, Set
from pbx.dialplan.apps.base import AppRegistry
from pbx.dialplan.apps.dial import Dial
from pbx.dialplan.apps.flow import Gosub, Goto, GotoIf, Return
from pbx.dialplan.apps.media import Background, Echo, Playback, Read
from pbx.dialplan.apps.messages import Log, NoOp, UserEvent, Verbose
from pbx.dialplan.apps.signalling import Answer, Busy, Congestion, Hangup, Progress, Ringing
from pbx.dialplan.apps.wait import Wait, WaitExten

__all__ = ["default_applications"]


def default_applications() -> AppRegistry:
    """A registry with every built-in application."""
    return AppRegistry(
        [
            Answer(),
            Background(),
            Busy(),
            Congestion(),
            Dial(),
            Echo(),
            Gosub(),
            Goto(),
            GotoIf(),
            Hangup(),
            Log(),
            MSet(),
            NoOp(),
            Playback(),
            Progress(),
            Read(),
            Return(),
            Ringing(),
            Set(),
            UserEvent(),
            Verbose(),
            Wait(),
            WaitExten(),
        ]
    )
