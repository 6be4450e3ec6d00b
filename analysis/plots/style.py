"""Figure style, colours and saving, shared by every plot module.

One palette gives each treatment line its colour in every figure (ICI-1 blue, ICI-2 vermillion,
from the colour-blind-safe Okabe-Ito set); :func:`figure_style` sets one set of font sizes; and
:func:`save_figure` writes PNG and PDF without timestamps, so rebuilding a report from the same
fits gives the same bytes.

Plot functions read nothing from here but colours and style: the interval they state comes from
the :class:`~rechallenge.analysis.settings.intervals.Interval` they are given.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, cast

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.transforms import Bbox

from rechallenge.analysis.settings.intervals import Interval

#: rcParams under which matplotlib draws every string literally: ``$...$`` is not mathtext and
#: no text goes to TeX (a user's matplotlibrc may turn ``text.usetex`` on). Labels are data.
LITERAL_TEXT: Final[dict[str, bool]] = {"text.parse_math": False, "text.usetex": False}

#: Colour of each treatment line (Okabe-Ito), used in every figure.
LINE_COLOURS: Final[dict[str, str]] = {"ICI-1": "#0072B2", "ICI-2": "#D55E00"}
#: Colours for further line labels, in order of first use after the named ones.
_EXTRA_COLOURS: Final[tuple[str, ...]] = ("#009E73", "#CC79A7", "#E69F00", "#56B4E9")
#: Pooled, predictive and reference elements (not tied to a line).
NEUTRAL: Final = "#333333"
REFERENCE: Final = "#888888"
#: Marks sites added in an update.
HIGHLIGHT: Final = "#009E73"

#: Resolution of the PNGs (journals ask for at least 300 dpi for line art with text).
PNG_DPI: Final = 300
#: Widths in inches: one journal column (8.5 cm) and two columns (17.5 cm). Every figure is
#: drawn at one of them and saved at that width, so it prints at its drawn size, text included.
SINGLE_WIDTH: Final = 8.5 / 2.54
DOUBLE_WIDTH: Final = 17.5 / 2.54
#: Text sizes at print, in points: notes and tick labels, body text, titles (7 to 9 pt).
SMALL_PT: Final = 7.0
TEXT_PT: Final = 8.0
TITLE_PT: Final = 9.0

_STYLE: Final[dict[str, Any]] = {
    "font.size": TEXT_PT,
    "axes.titlesize": TITLE_PT,
    "axes.labelsize": TEXT_PT,
    "xtick.labelsize": SMALL_PT,
    "ytick.labelsize": SMALL_PT,
    "legend.fontsize": SMALL_PT,
    "legend.frameon": False,
    "figure.titlesize": TITLE_PT,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.8,
    "lines.linewidth": 1.4,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.05,
    # Embed TrueType (Type 42) fonts: editable text in the PDF, accepted by journals.
    "pdf.fonttype": 42,
    "svg.hashsalt": "rechallenge",
    # Labels are data: a site called "$x^2$" is drawn as those five characters, not as math.
    **LITERAL_TEXT,
}


def line_colour(line: str) -> str:
    """Colour of a treatment line: from :data:`LINE_COLOURS`, else a fixed extra colour."""
    if line in LINE_COLOURS:
        return LINE_COLOURS[line]
    # A stable choice from the label itself, so a line keeps its colour across figures.
    return _EXTRA_COLOURS[sum(map(ord, line)) % len(_EXTRA_COLOURS)]


@contextmanager
def figure_style() -> Iterator[None]:
    """Context in which the package's font sizes and axes style apply and text is drawn as
    written (no mathtext, no TeX; see :mod:`rechallenge.analysis.reporting.escaping`).
    """
    with matplotlib.rc_context(cast(Any, _STYLE)):  # keys checked by matplotlib at run time
        yield


def new_figure(width: float = SINGLE_WIDTH, height: float = 2.6) -> Figure:
    """A figure of the given size in inches, with constrained layout.

    Made without pyplot, so it renders with Agg (PNG) and the PDF backend whatever backend the
    session uses, and nothing is kept open by pyplot's figure manager.
    """
    return Figure(figsize=(width, height), layout="constrained")


def new_axes(width: float = SINGLE_WIDTH, height: float = 2.6) -> Axes:
    """One axes on a :func:`new_figure` (call inside :func:`figure_style`)."""
    return new_figure(width, height).add_subplot()


def ordered_lines(*frames: pd.DataFrame) -> list[str]:
    """Line labels in order of first appearance across frames."""
    seen: dict[str, None] = {}
    for frame in frames:
        for line in frame["line"].astype(str):
            seen.setdefault(line, None)
    return list(seen)


def check_columns(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """Raise a ValueError naming the columns ``frame`` lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks columns {missing}")


def check_interval(frame: pd.DataFrame, interval: Interval) -> None:
    """The interval a frame was computed with must be the one the figure states."""
    found = set(frame["interval"].dropna().astype(str)) if "interval" in frame else set()
    if found - {interval.short}:
        raise ValueError(
            f"data were summarised with interval {sorted(found)} but the figure would state "
            f"{interval.short!r}; compute and plot with the same Interval")


def save_figure(fig: Figure, directory: Path, name: str) -> list[Path]:
    """Write ``<name>.png`` (300 dpi) and ``<name>.pdf`` into ``directory`` and close ``fig``.

    Both files are byte-for-byte reproducible: the PDF carries no creation date and the PNG no
    software or time stamp. The figure is laid out once, for both (see :func:`_freeze_layout`).
    A figure with constrained layout (every figure of :func:`new_figure`) is saved whole, at
    the size it was drawn (its layout keeps every label inside it), so the PNG's pixels over
    its resolution give the width it was drawn for; other figures are cropped to their
    contents.

    Parameters
    ----------
    fig
        The figure (closed afterwards, also on error).
    directory
        Created if missing.
    name
        File stem without extension, e.g. ``"forest_response"``.

    Returns
    -------
    list of pathlib.Path
        The PNG and PDF paths, in that order.
    """
    if not name or Path(name).name != name or name.startswith("."):
        raise ValueError(f"figure name must be a plain file stem, got {name!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    png, pdf = directory / f"{name}.png", directory / f"{name}.pdf"
    try:
        with figure_style():
            bbox = _freeze_layout(fig)
            fig.savefig(png, dpi=PNG_DPI, bbox_inches=bbox, metadata={"Software": None})
            fig.savefig(pdf, bbox_inches=bbox,
                        metadata={"CreationDate": None, "Creator": None, "Producer": None})
    finally:
        plt.close(fig)
    return [png, pdf]


#: How far (inches, half a point) ink may reach past the figure's edge before it is kept by
#: widening the saved box.
_SPILL_INCHES: Final = 0.5 / 72


def _freeze_layout(fig: Figure) -> Bbox:
    """Lay ``fig`` out once, as its PNG renders; return the box to save (inches): the whole
    figure under constrained layout, else the padded tight bounding box.

    ``savefig`` with constrained layout and ``bbox_inches="tight"`` lays a figure out and
    dry-draws it before drawing it, for every file. Here the layout engine runs once, measuring
    text with the PNG's renderer (Agg at :data:`PNG_DPI`, as ``savefig`` measured it for the
    PNG), and is then switched off, so the PNG and the PDF are each drawn once, with the same
    axes positions and crop. The PNG is unchanged by this; in the PDF, text (set with unhinted
    glyph widths) can run up to about 1.5% wider than Agg measured it: a fraction of a point on
    a label, inside the layout's and the crop's padding.
    """
    old_canvas, old_dpi = fig.canvas, fig.dpi
    try:
        canvas = FigureCanvasAgg(fig)  # first: a GUI canvas would resize its window to the dpi
        fig.set_dpi(PNG_DPI)
        renderer = canvas.get_renderer()
        engine = fig.get_layout_engine()
        if engine is not None:
            engine.execute(fig)
        bbox = fig.get_tightbbox(renderer)
        whole = isinstance(engine, ConstrainedLayoutEngine)
    finally:
        fig.set_dpi(old_dpi)
        fig.set_canvas(old_canvas)
    # No layout engine from here on: savefig then neither re-runs the layout nor dry-draws.
    with matplotlib.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
        fig.set_layout_engine(None)
    padded = bbox.padded(matplotlib.rcParams["savefig.pad_inches"])
    drawn = Bbox.from_bounds(0, 0, *fig.get_size_inches())
    if whole:
        # Never clip: a label the layout left outside the figure widens the saved box (and
        # the figure then prints wider than drawn, which the figure tests catch).
        inside = drawn.padded(_SPILL_INCHES)
        return drawn if inside.containsx(bbox.x0) and inside.containsx(bbox.x1) and \
            inside.containsy(bbox.y0) and inside.containsy(bbox.y1) else Bbox.union([drawn, padded])
    return padded
