"""The one place that decides how strategies look and how big figures are, so a strategy has the same
colour and marker in every figure of every report (paper or slides)."""

from __future__ import annotations

from dataclasses import dataclass

# Okabe-Ito colours (distinguishable with colour-blindness); markers repeat the distinction in greyscale.
COLORS = {
    "full": "#000000",
    "llrd": "#0072B2",
    "lora": "#D55E00",
    "qlora": "#E69F00",
    "adapters": "#009E73",
    "bitfit": "#CC79A7",
    "frozen": "#7F7F7F",
}
MARKERS = {"full": "o", "llrd": "D", "lora": "^", "qlora": "v", "adapters": "s", "bitfit": "P", "frozen": "X"}
EXTRA_COLORS = ("#56B4E9", "#8C564B", "#17BECF", "#BCBD22")  # strategies added later, in order of appearance
EXTRA_MARKERS = ("h", "*", "p", "<")


def color(strategy: str) -> str:
    return COLORS.get(strategy) or EXTRA_COLORS[_extra_index(strategy) % len(EXTRA_COLORS)]


def marker(strategy: str) -> str:
    return MARKERS.get(strategy) or EXTRA_MARKERS[_extra_index(strategy) % len(EXTRA_MARKERS)]


def _extra_index(strategy: str) -> int:
    """Stable across runs and processes (unlike ``hash``)."""
    return sum(map(ord, strategy))


@dataclass(frozen=True)
class Style:
    name: str
    width: float  # inches: one paper column is ~3.3 in
    height: float  # inches, for a single-panel figure
    font: float  # points; paper figures keep every text ≥ 7 pt at print size
    dpi: int  # PNG resolution
    marker_size: float
    line_width: float
    legend_columns: int
    panel_columns: int  # small multiples per row

    def rc(self) -> dict[str, object]:
        return {
            "font.size": self.font, "axes.labelsize": self.font, "axes.titlesize": self.font,
            "xtick.labelsize": self.font - 0.5, "ytick.labelsize": self.font - 0.5, "legend.fontsize": self.font - 0.5,
            "lines.linewidth": self.line_width, "lines.markersize": self.marker_size,
            "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
            "grid.linewidth": 0.5, "legend.frameon": False, "legend.handlelength": 1.2,
            "legend.columnspacing": 1.0, "pdf.fonttype": 42, "savefig.dpi": self.dpi,
        }


STYLES = {
    "paper": Style("paper", width=3.3, height=2.5, font=7.5, dpi=300, marker_size=4.5, line_width=1.0,
                   legend_columns=4, panel_columns=2),
    "slides": Style("slides", width=8.0, height=4.8, font=14, dpi=150, marker_size=8, line_width=2.0,
                    legend_columns=4, panel_columns=3),
}
