"""The models page and its REST endpoints over a model registry made without TensorFlow: the
out-of-sample report of :func:`mixbot.ml.report.build_report` on real BANKNIFTY bars (2019,
1-minute aggregated to 15 minutes, seeded random probabilities), written by
:func:`mixbot.ml.report_render.write_report`, and a meta.json with the fields `mixbot models`
reads. Bot r1 has v0001 (report and PNG) and v0002 (no PNG, one adaptation) and an
unfinished v0003 (no meta.json); r2 has none."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from markupsafe import escape
from rig import PASSWORDS, Rig
from tests.ml.ml_rig import banknifty_15m

from mixbot.ml.report import build_report, write_report
from mixbot.ml.simulate import SimConfig

CFG = SimConfig(threshold=0.6, sl_mult=1.0, tp_mult=2.0, horizon=8, capital=1_000_000.0)
PNG = b"\x89PNG\r\n\x1a\n"


def _oos(data_dir: Path) -> dict[str, Any]:
    """BANKNIFTY futures, January-February 2019, 15-minute bars (bar end, naive UTC)."""
    oos = banknifty_15m(data_dir, CFG.sl_mult, CFG.tp_mult, CFG.horizon, before="2019-03-01")
    proba = np.random.default_rng(5).dirichlet([0.4, 0.4, 0.4], len(oos["close"]))
    return oos | {"proba": proba}


def _meta(version: str, report: dict[str, Any]) -> dict[str, Any]:
    p = report["period"]
    member = {"b1": "m0.b1.tflite", "many": "m0.b256.tflite", "weights": "m0.weights.h5"}
    return {
        "bot_id": "r1", "version": version, "created": "2026-01-02T03:04:05+00:00",
        "symbol": "BANKNIFTY", "interval": "15m", "interval_minutes": 15, "feature_set": "fs1",
        "window": 32, "horizon": CFG.horizon,
        "stops": {"atr_period": 14, "sl_multiplier": CFG.sl_mult, "tp_multiplier": CFG.tp_mult},
        "data": {"files": [{"path": "BANKNIFTY_F1_2019H1.txt"}], "from": p["start"],
                 "to": p["end"], "bars": p["n_bars"]},
        "folds": [{"index": 0, "train": [0, 400], "val": [400, 600], "test": [600, 1200],
                   "members": [member], "normalizer": {"mean": [0.0], "std": [1.0]}}],
        "final": {"members": [member, member], "normalizer": {"mean": [0.0], "std": [1.0]},
                  "trained_until": p["end"]},
        "oos": report["summary"],
    }  # fmt: skip


@pytest.fixture(scope="module")
def registry_root(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """models/r1/v0001 (report.json, report.png), v0002 (no PNG, adapted), v0003 unfinished."""
    folds = [{"fold": 0, "n_train": 400, "n_val": 200, "n_test": 600, "val_sharpe": 1.25,
              "test_sharpe": 0.4}]  # fmt: skip
    tuner = {"n_trials": 4, "best_score": 2.125, "dsr": {"dsr": 0.375, "n_trials": 4}}
    report = build_report(_oos(data_dir), CFG, folds=folds, tuner=tuner, n_seeds=20,
                          in_sample={"sharpe": 7.75}, instrument="BANKNIFTY 15m")  # fmt: skip
    root = tmp_path_factory.mktemp("models")
    for v in ("v0001", "v0002"):
        folder = root / "r1" / v
        write_report(report, folder)
        (folder / "meta.json").write_text(json.dumps(_meta(v, report)), encoding="utf-8")
    v2 = root / "r1" / "v0002"
    (v2 / "report.png").unlink()
    adapted = {"atr_period": 14, "sl_multiplier": 1.5, "tp_multiplier": 3.0}
    (v2 / "adapt.json").write_text(json.dumps([{"time": "2026-01-03T00:00:00+00:00",
                                                "rule": "test", "reason": "wider",
                                                "stops": adapted}]))  # fmt: skip
    shutil.copytree(root / "r1" / "v0001", root / "r1" / "v0003")
    (root / "r1" / "v0003" / "meta.json").unlink()
    return root


@pytest.fixture
def models(registry_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MIXBOT_MODELS", str(registry_root))
    return registry_root


def _report(root: Path, version: str = "v0001") -> dict[str, Any]:
    return json.loads((root / "r1" / version / "report.json").read_text())  # type: ignore[no-any-return]


def test_list_has_the_versions_with_their_out_of_sample_figures(rig: Rig, models: Path) -> None:
    headers = rig.token("watcher")  # a viewer reads them
    r = rig.client.get("/api/v1/bots/r1/models", headers=headers)
    assert r.status_code == 200, r.json
    rows = {row["version"]: row for row in r.json}
    assert list(rows) == ["v0001", "v0002"]  # v0003 has no meta.json: unfinished
    rep, one = _report(models), rows["v0001"]
    assert one["oos_trades"] == rep["model"]["n_trades"] > 0
    assert one["oos_sharpe"] == rep["model"]["sharpe"]
    assert one["oos_net_return_pct"] == rep["model"]["total_return_pct"]
    assert one["verdict"] == rep["verdict"]["text"] and one["verdict"].startswith("Out-of-sample")
    assert one["beats_no_skill"] is rep["verdict"]["beats_no_skill"]
    assert one["folds"] == 1 and one["members"] == 2 and one["interval"] == "15m"
    assert one["data"] == f"{rep['period']['start'][:10]} .. {rep['period']['end'][:10]}"
    assert one["created"] == "2026-01-02T03:04:05+00:00"
    assert one["has_report"] and one["has_png"] and not rows["v0002"]["has_png"]
    assert one["stops"]["sl_multiplier"] == CFG.sl_mult
    assert rows["v0002"]["stops"]["sl_multiplier"] == 1.5  # adapt.json's newest
    assert "path" not in one  # not the server's folder
    empty = rig.client.get("/api/v1/bots/r2/models", headers=headers)
    assert empty.status_code == 200 and empty.json == []
    r = rig.client.get("/api/v1/bots/nope/models", headers=headers)
    assert r.status_code == 404 and r.json["code"] == "not_found"
    assert rig.client.get("/api/v1/bots/r1/models").status_code == 401


def test_detail_is_the_meta_summary_and_the_report(rig: Rig, models: Path) -> None:
    headers = rig.token("watcher")
    r = rig.client.get("/api/v1/bots/r1/models/v0001", headers=headers)
    assert r.status_code == 200, r.json
    body = r.json
    assert body["bot_id"] == "r1" and body["version"] == "v0001"
    assert body["report"] == _report(models)
    assert set(body["report"]) >= {"kind", "verdict", "curves", "buy_and_hold", "no_skill",
                                   "classification", "calibration", "folds", "tuner",
                                   "in_sample", "trades"}  # fmt: skip
    meta = body["meta"]
    assert meta["data"]["bars"] == body["report"]["period"]["n_bars"]
    assert meta["folds"][0]["members"] == 1 and meta["final"]["members"] == 2
    assert "normalizer" not in json.dumps(meta)
    assert body["row"]["verdict"] == body["report"]["verdict"]["text"]
    two = rig.client.get("/api/v1/bots/r1/models/v0002", headers=headers).json
    assert two["meta"]["stops"]["tp_multiplier"] == 3.0
    assert two["meta"]["stops_trained"]["tp_multiplier"] == CFG.tp_mult
    assert two["meta"]["adaptations"][0]["reason"] == "wider"


@pytest.mark.parametrize(
    "version",
    ["v0003", "v9999", "latest", "v1", "v001", "v0001x", "..", "v0001%2F..%2F..%2Fr2",
     "%2e%2e", "..%2F..%2F..%2Fetc%2Fpasswd", "v0001%00", "V0001"],
)  # fmt: skip
def test_unknown_or_malformed_versions_are_404(rig: Rig, models: Path, version: str) -> None:
    """Only ``v`` + 4 digits of a finished version: no path leaves models/<bot_id>/."""
    headers = rig.token("watcher")
    for tail in ("", "/report.png"):
        r = rig.client.get(f"/api/v1/bots/r1/models/{version}{tail}", headers=headers)
        assert r.status_code == 404, (version, tail, r.status_code)
        assert r.is_json and r.json["code"] == "not_found"
    r = rig.client.get(f"/api/v1/bots/nope/models/{version}", headers=headers)
    assert r.status_code == 404


def test_png_is_the_reports_image(rig: Rig, models: Path) -> None:
    headers = rig.token("watcher")
    r = rig.client.get("/api/v1/bots/r1/models/v0001/report.png", headers=headers)
    assert r.status_code == 200 and r.mimetype == "image/png"
    assert r.data[:8] == PNG and r.data == (models / "r1" / "v0001" / "report.png").read_bytes()
    r = rig.client.get("/api/v1/bots/r1/models/v0002/report.png", headers=headers)
    assert (
        r.status_code == 404 and r.json["code"] == "not_found" and "report.png" in r.json["message"]
    )
    assert rig.client.get("/api/v1/bots/nope/models/v0001/report.png", headers=headers).is_json


def _login(rig: Rig, user: str) -> Any:
    c = rig.app.test_client()
    page = c.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = c.post("/login", data={"username": user, "password": PASSWORDS[user], "csrf_token": token})
    assert r.status_code == 302
    return c


def _rows_with(html: str, needle: str) -> list[str]:
    return [row for row in re.findall(r"<tr>.*?</tr>|<th>.*?</th>", html, re.S) if needle in row]


def test_page_shows_the_verdict_figures_and_labels_in_sample_ones(rig: Rig, models: Path) -> None:
    c = _login(rig, "watcher")
    assert c.get("/bots/r1/models").status_code == 200
    bot_page = c.get("/bots/r1").get_data(as_text=True)
    assert 'href="/bots/r1/models"' in bot_page
    html = c.get("/bots/r1/models").get_data(as_text=True)
    rep = _report(models, "v0002")
    assert str(escape(rep["verdict"]["text"])) in html  # the newest version by default
    assert 'class="selected"' in html and "v0002: out-of-sample report" in html
    assert "report.png" not in html  # v0002 has none
    html = c.get("/bots/r1/models?version=v0001").get_data(as_text=True)
    assert "v0001: out-of-sample report" in html
    assert 'src="/api/v1/bots/r1/models/v0001/report.png"' in html
    for table in ("model-versions", "model-perf", "model-classes", "model-confusion",
                  "model-folds", "model-tuner", "model-in-sample"):  # fmt: skip
        assert f'id="{table}"' in html, table
    m, bh = rep["model"], rep["buy_and_hold"]
    perf = _rows_with(html, "Net return after charges")[0]
    assert f"{m['total_return_pct']:,.2f}" in perf and f"{bh['total_return_pct']:,.2f}" in perf
    assert f"{rep['no_skill']['net_return_pct']['p50']:+.2f}" in perf  # no-skill median
    assert _rows_with(html, "<td>BUY</td>")
    # every in-sample figure (tuner, validation, in_sample section) has the word next to it
    figures = html.split('id="model-trades"')[0]  # not the trades' prices
    assert 'id="model-trades"' in html
    for needle in ("best_score", "2.125", "dsr.dsr", "0.375", "val_sharpe", "n_val", "7.75"):
        found = _rows_with(figures, needle)
        assert found, needle
        assert all("in-sample" in row for row in found), (needle, found)
    assert "Tuner (validation folds: in-sample)" in html
    assert "in-sample (NOT out-of-sample)" in html
    assert "test_sharpe (in-sample)" not in html  # test folds are out-of-sample
    assert c.get("/bots/r1/models?version=v9999").status_code == 404
    assert c.get("/bots/r1/models?version=../r2").status_code == 404
    assert c.get("/bots/nope/models").status_code == 404
    empty = c.get("/bots/r2/models").get_data(as_text=True)
    assert 'id="no-models"' in empty and "mixbot train" in empty


def test_page_needs_a_login(rig: Rig, models: Path) -> None:
    r = rig.client.get("/bots/r1/models")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_success_responses_match_the_openapi_document(rig: Rig, models: Path) -> None:
    """The 200 responses of the three endpoints on a real registry (the fuzz test's random
    versions only reach the 404s)."""
    import schemathesis
    from test_openapi_fuzz import CHECKS

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", rig.app)
    headers = rig.token("watcher")
    for path, params in (
        ("/api/v1/bots/{bot_id}/models", {"bot_id": "r1"}),
        ("/api/v1/bots/{bot_id}/models", {"bot_id": "r2"}),
        ("/api/v1/bots/{bot_id}/models/{version}", {"bot_id": "r1", "version": "v0001"}),
        ("/api/v1/bots/{bot_id}/models/{version}/report.png", {"bot_id": "r1", "version": "v0001"}),
        ("/api/v1/bots/{bot_id}/models/{version}/report.png", {"bot_id": "r1", "version": "v0002"}),
    ):
        case = schema[path]["GET"].Case(path_parameters=params)
        resp = case.call(headers=headers)
        assert resp.status_code in (200, 404), (path, params, resp.status_code)
        case.validate_response(resp, checks=CHECKS)
