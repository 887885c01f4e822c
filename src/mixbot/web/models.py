"""REST API, part three: a bot's ML models (:mod:`mixbot.ml.registry`), and the data of the
models page. Routes on :data:`mixbot.web.api.bp`.

The list rows are those of `mixbot models` (:func:`mixbot.ml.cli._model_rows`) with each
version's out-of-sample verdict from its ``report.json``. A version is ``v`` and 4+ digits
(``^v[0-9]{4,}$``): anything else is a 404 before the registry folder is looked at, so no
path leaves ``models/<bot_id>/``. Every figure of the report's main sections is
out-of-sample; the page labels the tuner's, the validation folds' and the ``in_sample``
section's figures "in-sample" (as :func:`mixbot.ml.report_render.render_text` does).
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from apiflask import abort
from apiflask.schemas import FileSchema

from mixbot.errors import MixbotError
from mixbot.web import schemas as s
from mixbot.web.api import bot, bp

VERSION = re.compile(r"^v[0-9]{4,}$")
#: parsed report.json files by (path, mtime, size): a page view reads each version's verdict
_REPORTS: dict[tuple[str, int, int], dict[str, Any]] = {}
_REPORTS_LOCK = threading.Lock()
_REPORTS_MAX = 16


def _report(folder: Path) -> dict[str, Any] | None:
    """The version's report.json (None when it has none)."""
    f = folder / "report.json"
    try:
        st = f.stat()
    except OSError:
        return None
    key = (str(f), st.st_mtime_ns, st.st_size)
    with _REPORTS_LOCK:
        hit = _REPORTS.get(key)
    if hit is not None:
        return hit
    try:
        doc = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MixbotError(f"{f}: unreadable out-of-sample report: {exc}") from exc
    with _REPORTS_LOCK:
        if len(_REPORTS) >= _REPORTS_MAX:
            _REPORTS.pop(next(iter(_REPORTS)))
        _REPORTS[key] = doc
    return doc  # type: ignore[no-any-return]


def model_rows(bot_id: str) -> list[dict[str, Any]]:
    """The rows of `mixbot models` for ``bot_id``, oldest first, each with the report's
    ``verdict`` text, ``beats_buy_and_hold``, ``beats_no_skill``, ``has_report``, ``has_png``.

    Raises:
        MixbotError: a meta.json or report.json that cannot be read.
    """
    from mixbot.ml import registry
    from mixbot.ml.cli import model_rows

    try:
        rows = model_rows([bot_id])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MixbotError(f"model registry {registry.models_root() / bot_id}: {exc!r}") from exc
    for row in rows:
        folder = Path(row["path"])
        rep = _report(folder)
        verdict = (rep or {}).get("verdict") or {}
        row.update(
            verdict=verdict.get("text"),
            beats_buy_and_hold=verdict.get("beats_buy_and_hold"),
            beats_no_skill=verdict.get("beats_no_skill"),
            has_report=rep is not None,
            has_png=(folder / "report.png").is_file(),
        )
    return rows


def _record(bot_id: str, version: str) -> Any:
    """The :class:`~mixbot.ml.registry.ModelRecord` (404: malformed or unknown version)."""
    from mixbot.ml import registry

    if not VERSION.match(version):
        abort(404, f"not a model version: {version!r} (versions look like v0001)")
    for rec in registry.versions(bot_id):
        if rec.version == version:
            return rec
    abort(404, f"bot {bot_id} has no model {version} (GET .../models lists them)")


def meta_summary(rec: Any) -> dict[str, Any]:
    """What meta.json says of a version, without the normalisation statistics."""
    m = rec.meta
    data = m.get("data") or {}
    folds = [
        {k: f.get(k) for k in ("index", "train", "val", "test")}
        | {"members": len(f.get("members") or [])}
        for f in m.get("folds") or []
    ]
    final = m.get("final") or {}
    keep = ("created", "config", "symbol", "interval", "interval_minutes", "feature_set",
            "features", "window", "horizon", "classes", "params", "options", "model",
            "adaptation", "versions")  # fmt: skip
    return {k: m.get(k) for k in keep} | {
        "stops": rec.stops,
        "stops_trained": m.get("stops"),
        "adaptations": rec.adaptations(),
        "data": {k: data.get(k) for k in ("from", "to", "bars", "files")},
        "folds": folds,
        "final": {
            "members": len(final.get("members") or []),
            "trained_until": final.get("trained_until"),
        },  # fmt: skip
    }


@bp.get("/bots/<bot_id>/models")
@bp.output(s.ModelRow(many=True))
@bp.doc(
    summary="The bot's trained ML models, oldest first (empty when none), as `mixbot models`",
    responses=[401, 404],
)
def models(bot_id: str) -> Any:
    return model_rows(bot(bot_id).bot_id)


@bp.get("/bots/<bot_id>/models/<version>")
@bp.output(s.ModelDetail)
@bp.doc(
    summary="A model version: its meta.json summary and the out-of-sample report",
    responses=[401, 404],
)
def model(bot_id: str, version: str) -> Any:
    ref = bot(bot_id)
    rec = _record(ref.bot_id, version)
    row = next((r for r in model_rows(ref.bot_id) if r["version"] == rec.version), None)
    if row is None:  # removed meanwhile
        abort(404, f"bot {ref.bot_id} has no model {version} any more")
    return {
        "bot_id": ref.bot_id,
        "version": rec.version,
        "row": row,
        "meta": meta_summary(rec),
        "report": _report(rec.path),
    }


@bp.get("/bots/<bot_id>/models/<version>/report.png")
@bp.output(
    FileSchema(type="string", format="binary"),
    content_type="image/png",
    description="The report's charts: equity vs buy-and-hold vs no-skill, confusion, calibration",
)
@bp.doc(summary="A model version's out-of-sample report charts (PNG)", responses=[401, 404])
def model_png(bot_id: str, version: str) -> Any:
    from flask import send_file

    rec = _record(bot(bot_id).bot_id, version)
    png = rec.path / "report.png"
    if not png.is_file():
        abort(404, f"model {rec.version} of bot {rec.bot_id} has no report.png")
    return send_file(png.resolve(), mimetype="image/png", max_age=0)


# ---------------------------------------------------------------------- the models page
def _num(v: Any, spec: str = "{:,.2f}") -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    return spec.format(v)


def _dist(d: dict[str, Any] | None, spec: str = "{:+.2f}") -> str:
    if not d:
        return "n/a"
    return f"{spec.format(d['p50'])} [{spec.format(d['p5'])}, {spec.format(d['p95'])}]"


def _perf(r: dict[str, Any]) -> list[list[str]]:
    """Out-of-sample figures: [label, model, buy-and-hold, no-skill] rows."""
    m, bh, ns = r["model"], r["buy_and_hold"], r["no_skill"]
    held = "qty" in bh
    return [
        ["Trades", str(m["n_trades"]), "1" if held else "n/a", _num(ns.get("mean_trades"), "{:.1f}")],
        ["Net return after charges (%)", _num(m["total_return_pct"]),
         _num(bh.get("total_return_pct")), _dist(ns.get("net_return_pct"))],
        ["Sharpe (annualised)", _num(m["sharpe"], "{:.3f}"), _num(bh.get("sharpe"), "{:.3f}"),
         _dist(ns.get("sharpe"), "{:+.3f}")],
        ["Max drawdown (%)", _num(m["max_drawdown_pct"]), _num(bh.get("max_drawdown_pct")), ""],
        ["Win rate (%)", _num(m["win_rate_pct"]), "", ""],
        ["Profit factor", _num(m.get("profit_factor"), "{:.3f}"), "", ""],
        ["Charges paid (INR)", _num(m["charges_paid"]), _num(bh.get("charges_paid")), ""],
        ["Model percentile among no-skill runs", "", "",
         f"return {_num(ns.get('model_percentile_return'), '{:.0f}')}, "
         f"Sharpe {_num(ns.get('model_percentile_sharpe'), '{:.0f}')}"],
    ]  # fmt: skip


def _kv(d: dict[str, Any] | None) -> list[list[str]]:
    """``[["in-sample key", value]]`` of a flat-or-one-level dict (lists left out)."""
    out = []
    for k, v in (d or {}).items():
        if isinstance(v, dict):
            out += [[f"in-sample {k}.{k2}", _num(v2, "{:.4g}")] for k2, v2 in v.items()
                    if not isinstance(v2, dict | list)]  # fmt: skip
        elif not isinstance(v, list):
            out.append([f"in-sample {k}", _num(v, "{:.4g}")])
    return out


def _folds(folds: list[dict[str, Any]]) -> dict[str, Any]:
    """Headers (validation/training columns labelled "(in-sample)") and rows."""
    from mixbot.ml.report_render import _IN_SAMPLE_KEYS

    keys: list[str] = []
    for f in folds:
        keys += [k for k, v in f.items() if k not in keys and not isinstance(v, dict | list)]
    heads = [f"{k} (in-sample)" if any(w in k.lower() for w in _IN_SAMPLE_KEYS) else k
             for k in keys]  # fmt: skip
    return {"heads": heads, "rows": [[_num(f.get(k), "{:.4g}") for k in keys] for f in folds]}


def _signals(sig: dict[str, Any]) -> str:
    return (
        f"signals at threshold {sig['threshold']}: BUY {sig['BUY']['n']} (precision "
        f"{_num(sig['BUY']['precision'], '{:.3f}')}), SELL {sig['SELL']['n']} (precision "
        f"{_num(sig['SELL']['precision'], '{:.3f}')})"
    )


def page(ref: Any, version: str | None) -> dict[str, Any]:
    """The models page's data: every version's row and the selected one's report (the
    newest when ``version`` is None).

    Raises:
        NotFound (404): an unknown or malformed version.
    """
    from flask import abort as page_abort

    from mixbot.ml import registry

    rows = model_rows(ref.bot_id)
    out: dict[str, Any] = {"rows": rows, "root": str(registry.models_root() / ref.bot_id)}
    if version is not None and (not VERSION.match(version) or version not in
                                {r["version"] for r in rows}):  # fmt: skip
        page_abort(404)
    if not rows:
        return out | {"selected": None}
    sel = next(r for r in rows if r["version"] == (version or rows[-1]["version"]))
    rec = registry.load(ref.bot_id, sel["version"])
    out |= {"selected": sel, "meta": meta_summary(rec), "report": None}
    r = _report(rec.path)
    if r is None:
        return out
    c = r["classification"]
    out["report"] = {
        "verdict": r["verdict"]["text"],
        "scope": r["scope"],
        "period": r["period"],
        "instrument": r.get("instrument"),
        "n_seeds": r["no_skill"].get("n_seeds", 0),
        "perf": _perf(r),
        "classes": [[x["class"], _num(x["precision"], "{:.3f}"), _num(x["recall"], "{:.3f}"),
                     str(x["support"]), str(x["predicted"])] for x in c["per_class"]],  # fmt: skip
        "accuracy": _num(c["accuracy"], "{:.3f}"),
        "n_labelled": c["n_labelled"],
        "confusion": [[x["class"], *map(str, row)]
                      for x, row in zip(c["per_class"], c["confusion"], strict=True)],  # fmt: skip
        "signals": _signals(c["signals"]),
        "ece": _num(r["calibration"]["ece"], "{:.4f}"),
        "folds": _folds(r.get("folds") or []),
        "tuner": _kv(r.get("tuner")),
        "in_sample": None if not r.get("in_sample") else {
            "label": r["in_sample"]["label"], "rows": _kv(r["in_sample"]["metrics"])},
        "trades": r.get("trades") or [],
    }  # fmt: skip
    return out
