"""The live page of a DataFlow: its chain, each hop's figures, the last rewiring, recent Events.

``Board`` holds what the page shows (fed by ``kasugai up`` or the controller), ``FigureSampler``
scrapes the functions' metrics into it every second, and ``mount_page`` serves it from a
``ProbeServer``: ``/``, ``/dataflows/<ns>/<name>`` (+ ``.json`` and ``/events``), ``/static/``.
"""

from kasugai.view.page.board import Board
from kasugai.view.page.recent import RecentEvents
from kasugai.view.page.routes import mount_page
from kasugai.view.page.sampler import FigureSampler

__all__ = ["Board", "FigureSampler", "RecentEvents", "mount_page"]
