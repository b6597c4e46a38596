"""The one place that decides how strategies look and how big figures are, so a strategy has the same
colour and marker in every figure of every report (paper or slides)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterable

from peftbench.strategy import StrategyInfo

# One hue per family (a strategy's family is declared by the strategy and carried in results.json), from
# dark to light within the family; markers tell the members of a family apart, also in greyscale.
FAMILY_COLORMAPS = {"full": "Blues", "selective": "Greys", "additive": "Greens", "reparameterised": "Oranges",
                    "quantised": "Purples", "prompt": "RdPu"}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h", "*", "<", ">", "p", "d", "H")


@dataclass(frozen=True)
class Look:
    color: str
    marker: str


class Palette:
    """Colour and marker of every strategy in a report: the family decides the hue; the strategy's place among its
    family's registered strategies (``StrategyInfo.family_index``, from the registry) the shade and the marker, so
    a strategy looks the same in every figure of every report whatever else is compared. A strategy without that
    place (written by an older peftbench) takes the next free one of its family, in the order given."""

    def __init__(self, strategies: Iterable[StrategyInfo | tuple[str, str]]):
        from matplotlib import colormaps
        from matplotlib.colors import to_hex

        placed: dict[str, dict[str, int]] = {family: {} for family in FAMILY_COLORMAPS}  # family → name → place
        sizes: dict[str, int] = {}  # family → its registered members, as declared
        loose: dict[str, list[str]] = {}  # strategies without a declared place, in the order given
        for item in strategies:
            info = item if isinstance(item, StrategyInfo) else None
            name, family = (info.name, info.family) if info else item
            members = placed.setdefault(family, {})
            if name in members or name in loose.get(family, []):
                continue
            if info is not None and info.family_index is not None:
                members[name] = info.family_index
                sizes[family] = max(sizes.get(family, 0), info.family_size or 0)
            else:
                loose.setdefault(family, []).append(name)
        self.looks: dict[str, Look] = {}  # in family order: legends list strategies family by family
        self.family_of: dict[str, str] = {}
        self.family_colors: dict[str, str] = {}  # the family's hue at a middle shade: a legend of families
        for family, members in placed.items():
            self.family_colors[family] = to_hex(colormaps[FAMILY_COLORMAPS.get(family, "Greys")](0.7))
            self.family_of.update({name: family for name in members})
            taken = set(members.values())
            free = (index for index in itertools.count() if index not in taken)
            members.update({name: next(free) for name in loose.get(family, [])})
            size = max([sizes.get(family, 0)] + [index + 1 for index in members.values()])
            cmap = colormaps[FAMILY_COLORMAPS.get(family, "Greys")]
            for name, index in sorted(members.items(), key=lambda item: item[1]):
                shade = 0.85 if size == 1 else 0.95 - 0.5 * index / (size - 1)
                self.looks[name] = Look(to_hex(cmap(shade)), MARKERS[index % len(MARKERS)])

    def in_order(self, strategies: Iterable[str]) -> list[str]:
        """``strategies`` family by family, as the palette lists them."""
        wanted = set(strategies)
        return [name for name in self.looks if name in wanted]

    def families(self, strategies: Iterable[str]) -> dict[str, int]:
        """How many of ``strategies`` each family has, families in the palette's order."""
        counts = {family: 0 for family in self.family_colors}
        for name in strategies:
            counts[self.family_of[name]] += 1
        return {family: count for family, count in counts.items() if count}

    def color(self, strategy: str) -> str:
        return self.looks[strategy].color

    def marker(self, strategy: str) -> str:
        return self.looks[strategy].marker


@dataclass(frozen=True)
class Style:
    name: str
    width: float  # inches: one paper column is ~3.3 in
    wide_width: float  # inches, a figure of several panels: both columns of a paper (~6.9 in)
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
    "paper": Style("paper", width=3.3, wide_width=6.9, height=2.5, font=7.5, dpi=300, marker_size=4.5,
                   line_width=1.0, legend_columns=4, panel_columns=2),
    "slides": Style("slides", width=8.0, wide_width=8.0, height=4.8, font=14, dpi=150, marker_size=8, line_width=2.0,
                    legend_columns=4, panel_columns=3),
}
