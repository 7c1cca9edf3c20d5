"""Replication of the five studies emoscope comes from: each protocol run by one command at a
``quick`` (smoke), ``cpu`` (this machine, models that learn) or ``full`` (the paper's) scale, with the
paper's claim beside our number on a page written from the run's JSON."""

from __future__ import annotations

from emoscope.replication import hybrid, interview, panic, realtime, thesis
from emoscope.replication.study import Study

STUDIES: dict[str, Study] = {m.STUDY.name: m.STUDY for m in (panic, hybrid, thesis, realtime, interview)}
