"""Data-quality report of one bar load: what was read, dropped, repaired, sorted and noticed.

The loader (:mod:`mixbot.feeds.loaders`) fills a :class:`QualityReport` while it cleans a
file. The rule is that nothing is dropped without being counted here: for every load,
``rows_read - dropped == rows_kept``.

Timestamps quoted in examples are the bar END labels in UTC (tz-naive), formatted
``YYYY-MM-DD HH:MM``; places in the file are 1-based line numbers (prefixed with the file
name when several files were loaded together).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: How many examples each finding keeps.
MAX_EXAMPLES = 5


@dataclass
class Finding:
    """One kind of problem: how many rows had it and a few examples.

    Attributes:
        count: number of rows (or gaps, or jumps) concerned.
        examples: up to :data:`MAX_EXAMPLES` short strings, each naming a line and/or a
            bar-end timestamp (UTC), e.g. ``"line 12 @ 1996-01-03 10:00"``.
    """

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, count: int, examples: list[str]) -> None:
        """Add ``count`` occurrences and keep examples up to :data:`MAX_EXAMPLES`."""
        self.count += int(count)
        room = MAX_EXAMPLES - len(self.examples)
        if room > 0:
            self.examples.extend(examples[:room])

    def _eg(self) -> str:
        return f", e.g. {'; '.join(self.examples)}" if self.examples else ""


@dataclass
class QualityReport:
    """What a load found in a bar file, and what it did about it.

    Dropped rows (each counted, with examples): ``duplicates`` (same bar-end timestamp; the
    LAST occurrence in file order is kept, the earlier ones dropped), ``bad_prices``
    (open/high/low/close NaN or <= 0), ``bad_volume`` (volume NaN or negative) and
    ``zero_volume_placeholders`` (O=H=L=C and volume 0, i.e. no trade that bar).

    Fixed but kept: ``high_low_repaired`` (high set to max(o,h,l,c), low to min(o,h,l,c)),
    ``order`` (rows sorted by time; ``"sorted"`` when already in order, else
    ``"newest-first"`` or ``"unsorted"`` with ``out_of_order`` backward steps).

    Only reported: ``gaps`` (intraday: missing bars inside a session day, ``count`` = number
    of gaps, ``missing_bars`` = bars missing in total), ``largest_gap_days`` (daily data:
    largest calendar-day distance between consecutive bars, weekends and holidays are
    normal and not counted as gaps), ``session`` and ``outside_session`` (intraday
    exchange data: the regular session found from the data, e.g. ``"09:16-15:30
    Asia/Kolkata"``, and the bars outside it, which are kept; gaps are only counted
    inside it; 24/7 UTC data has no session and every step is checked), ``jumps``
    (close-to-close moves above ``jump_threshold``, 0.25 = 25 %), ``wide_bars``
    (high/low - 1 above ``jump_threshold``, e.g. a bad print), ``blank_lines`` (empty
    lines skipped, not rows). Gaps describe the returned bars, so dropped rows (e.g.
    zero-volume placeholders) show up as missing bars too.

    Attributes:
        source: file name, or ``"N files: first .. last"`` for a multi-file load.
        fmt: detected or requested format name.
        rows_read: data rows in the file(s) (blank lines and headers excluded).
        rows_kept: rows in the returned frame.
        interval_seconds: median bar spacing of the kept bars, seconds.
        daily: True when the bars are daily (or longer) and labelled at the session close.
        notes: how timestamps were read (time zone, labelling, epoch units, columns used).
    """

    source: str
    fmt: str
    rows_read: int = 0
    rows_kept: int = 0
    interval_seconds: int = 0
    daily: bool = False
    blank_lines: int = 0
    duplicates: Finding = field(default_factory=Finding)
    bad_prices: Finding = field(default_factory=Finding)
    bad_volume: Finding = field(default_factory=Finding)
    zero_volume_placeholders: Finding = field(default_factory=Finding)
    high_low_repaired: Finding = field(default_factory=Finding)
    order: str = "sorted"
    out_of_order: int = 0
    gaps: Finding = field(default_factory=Finding)
    missing_bars: int = 0
    largest_gap_days: float | None = None
    largest_gap_at: str | None = None
    session: str | None = None
    outside_session: Finding = field(default_factory=Finding)
    jumps: Finding = field(default_factory=Finding)
    wide_bars: Finding = field(default_factory=Finding)
    jump_threshold: float = 0.25
    first_bar: str | None = None
    last_bar: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def dropped(self) -> int:
        """Total rows dropped: duplicates + bad prices + bad volume + zero-volume placeholders."""
        return (
            self.duplicates.count
            + self.bad_prices.count
            + self.bad_volume.count
            + self.zero_volume_placeholders.count
        )

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain JSON-serialisable values, plus ``dropped``."""
        d = asdict(self)
        d["dropped"] = self.dropped
        return d

    def render(self) -> str:
        """A short human-readable multi-line report.

        The first line is ``"<source>: kept X of Y rows (<fmt>, ...)"``; one indented line
        follows per non-empty finding, then the notes.
        """
        kind = "daily" if self.daily else f"{self.interval_seconds}s bars"
        span = f", {self.first_bar} .. {self.last_bar} UTC" if self.first_bar else ""
        out = [
            f"{self.source}: kept {self.rows_kept} of {self.rows_read} rows "
            f"({self.fmt}, {kind}{span}; dropped {self.dropped})"
        ]
        f = self.duplicates
        if f.count:
            out.append(
                f"  dropped {f.count} duplicate timestamps (kept the LAST occurrence){f._eg()}"
            )
        f = self.bad_prices
        if f.count:
            out.append(f"  dropped {f.count} rows with a NaN or non-positive price{f._eg()}")
        f = self.bad_volume
        if f.count:
            out.append(f"  dropped {f.count} rows with a NaN or negative volume{f._eg()}")
        f = self.zero_volume_placeholders
        if f.count:
            out.append(
                f"  dropped {f.count} zero-volume placeholder bars (O=H=L=C, volume 0){f._eg()}"
            )
        f = self.high_low_repaired
        if f.count:
            out.append(
                f"  repaired high/low on {f.count} bars (high=max(o,h,l,c), low=min(o,h,l,c))"
                f"{f._eg()}"
            )
        if self.order != "sorted":
            out.append(
                f"  rows were {self.order} ({self.out_of_order} backward steps): sorted by time"
            )
        f = self.gaps
        if f.count:
            out.append(
                f"  {f.count} intraday gaps, {self.missing_bars} missing bars in total{f._eg()}"
            )
        if self.session:
            f = self.outside_session
            out.append(
                f"  regular session {self.session}; {f.count} bars outside it (kept){f._eg()}"
            )
        if self.largest_gap_days is not None:
            out.append(
                f"  largest gap between bars: {self.largest_gap_days:g} calendar days "
                f"(ending {self.largest_gap_at})"
            )
        f = self.jumps
        if f.count:
            out.append(
                f"  {f.count} close-to-close jumps > {self.jump_threshold:.0%} (kept){f._eg()}"
            )
        f = self.wide_bars
        if f.count:
            out.append(
                f"  {f.count} bars with high/low range > {self.jump_threshold:.0%} (kept){f._eg()}"
            )
        if self.blank_lines:
            out.append(f"  skipped {self.blank_lines} blank lines")
        out.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(out)
