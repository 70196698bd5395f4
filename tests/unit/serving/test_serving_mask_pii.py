"""`lathe serve --mask-pii`: the prediction log never stores raw PII (inputs, row ids, the
client's request id), while the model still scores the raw rows."""

from __future__ import annotations

import json


def _rows(holdout_rows):
    rows = [dict(r) for r in holdout_rows[:2]]
    rows[0].update(contact="li.lei@example.cn, 138 0013 8000", row_id="wang@example.com")
    rows[1].update(contact="身份证 11010519491231002X", row_id="r-2")
    return rows


def _post(client, rows):
    response = client.post("/v1/models/adult/predict", json={"rows": rows},
                           headers={"X-Request-ID": "call (415) 555-0123"})
    assert response.status_code == 200, response.text
    return response.json()


def test_mask_pii_keeps_raw_pii_out_of_the_log(client_for, tmp_path, adult_model_dir,
                                               holdout_rows):
    url = f"sqlite:///{tmp_path}/masked/predictions.db"
    masked = client_for(models=[str(adult_model_dir)], prediction_log=url, mask_pii=True)
    rows = _rows(holdout_rows)
    body = _post(masked, rows)
    record = masked.app.state.prediction_log.read(body["request_id"])
    stored = json.dumps(record, ensure_ascii=False, default=str)
    for raw in ("li.lei@example.cn", "138 0013 8000", "11010519491231002X",
                "wang@example.com", "(415) 555-0123"):
        assert raw not in stored
    assert record["inputs"]["rows"][0]["contact"] == "<EMAIL_ADDRESS>, <CN_MOBILE>"
    assert record["inputs"]["rows"][0]["age"] == rows[0]["age"]  # non-PII kept as sent
    assert record["row_ids"] == ["<EMAIL_ADDRESS>", "r-2"]

    # the same rows without masking: the log has them as sent, and the model answered the same
    plain = client_for(models=[str(adult_model_dir)],
                       prediction_log=f"sqlite:///{tmp_path}/plain/predictions.db")
    plain_body = _post(plain, rows)
    assert plain_body["predictions"] == body["predictions"]
    assert plain.app.state.prediction_log.read(plain_body["request_id"])["inputs"] == {
        "rows": rows}
