"""The web app's JSON API, files and safety, against `meshmill serve` on SQLite + folder and PostgreSQL + S3."""

from __future__ import annotations

import io
import zipfile

import httpx
import trimesh
from PIL import Image

from tests.clients import validate_gltf


def test_api_search_detail_downloads_and_safety(any_catalog, tmp_path, serve):
    env, ids = any_catalog
    env = {**env, "MESHMILL_DAGSTER_URL": "http://dagster.studio:3000"}
    base = serve(env)
    api = httpx.Client(base_url=base, timeout=30)

    def names(**params) -> list[str]:  # noqa: ANN003
        response = api.get("/api/search", params=params)
        assert response.status_code == 200, response.text
        return sorted(r["filename"] for r in response.json()["items"])

    assert names() == ["duck.png", "mug.jpg", "soccer_ball.png"]
    assert names(tag="demo") == ["duck.png", "soccer_ball.png"]
    assert names(tag=["demo", "approved"]) == ["duck.png"]
    assert names(collection="kitchen") == ["mug.jpg"]
    assert names(variant="mobile", status="succeeded") == ["duck.png", "mug.jpg", "soccer_ball.png"]
    assert names(tag="nobody-uses-this") == []
    first = api.get("/api/search", params={"limit": 2}).json()
    rest = api.get("/api/search", params={"limit": 2, "before": first["next_before"]}).json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["next_before"] is None
    assert {r["id"] for r in first["items"]} | {r["id"] for r in rest["items"]} == set(ids.values())

    variants = api.get(f"/api/sources/{ids['duck.png']}/variants").json()
    assert sorted(o["variant"] for o in variants) == ["desktop", "mobile"]
    mobile = next(o for o in variants if o["variant"] == "mobile")
    detail = api.get(f"/api/outputs/{mobile['id']}").json()
    assert detail["source"]["filename"] == "duck.png" and detail["output"]["parameters"]["target_faces"] == 1200
    assert detail["links"]["asset"] == f"http://dagster.studio:3000/assets/textured_glb?view=partitions&partition={detail['source']['content_hash'][:16]}|mobile"
    assert detail["links"]["run"] == f"http://dagster.studio:3000/runs/{detail['output']['dagster_run_id']}"
    assert [a["status"] for a in detail["attempts"]] == ["succeeded"]

    # downloads return valid files
    glb = api.get(f"/files/outputs/{mobile['id']}/model.glb")
    assert glb.headers["content-type"] == "model/gltf-binary" and 'filename="duck_mobile.glb"' in glb.headers["content-disposition"]
    (tmp_path / "duck.glb").write_bytes(glb.content)
    (report,) = validate_gltf(tmp_path / "duck.glb")
    assert (report["errors"], report["warnings"]) == (0, 0)
    archive = zipfile.ZipFile(io.BytesIO(api.get(f"/files/outputs/{mobile['id']}/obj.zip").content))
    assert sorted(n.rsplit(".", 1)[1] for n in archive.namelist()) == ["mtl", "obj", "png"]
    archive.extractall(tmp_path / "obj")
    obj = trimesh.load(tmp_path / "obj" / "duck_mobile.obj", force="mesh")
    assert abs(len(obj.faces) - mobile["face_count"]) <= 2 and obj.visual.uv is not None
    assert Image.open(io.BytesIO(api.get(f"/files/sources/{ids['mug.jpg']}/image").content)).size == (512, 512)
    assert Image.open(io.BytesIO(api.get(f"/files/sources/{ids['mug.jpg']}/cleaned.png").content)).mode == "RGBA"
    assert Image.open(io.BytesIO(api.get(f"/files/outputs/{mobile['id']}/preview.png").content)).format == "PNG"

    # bad ids: 404 naming what is missing, on the API, the files and the pages
    for path, message in [("/api/outputs/99999", "output 99999 does not exist"), ("/files/outputs/99999/model.glb", "output 99999 does not exist"),
                          ("/api/sources/99999/variants", "source image 99999 does not exist"), ("/api/outputs/abc", "no such output: 'abc'"),
                          (f"/files/sources/{ids['duck.png']}/mesh.png", "no stage 'mesh'")]:  # fmt: skip
        response = api.get(path)
        assert response.status_code == 404 and message in response.json()["detail"], (path, response.text)
    page = api.get("/outputs/99999")
    assert page.status_code == 404 and "output 99999 does not exist" in page.text
    # no way out of the served folders
    for path in ["/files/sources/1/..%2F..%2Fcatalog.db", "/static/..%2F..%2F..%2Fpyproject.toml", "/vendor/three/..%2F..%2Fpackage.json",
                 "/static/../app.py"]:  # fmt: skip
        assert api.get(path).status_code == 404, path
    # label filters are validated and parameterised: hostile text is refused or matches nothing
    for params in ({"tag": "x' OR 1=1 --"}, {"collection": "kitchen'; DROP TABLE output; --"}):
        hostile = api.get("/api/search", params=params)
        assert hostile.status_code == 400 and "'" in hostile.json()["detail"], hostile.text
    assert names(variant="mobile' OR '1'='1") == []
    assert names() == ["duck.png", "mug.jpg", "soccer_ball.png"]  # everything still there

    # read-only unless --allow-edits
    edit = {"kind": "tag", "add": ["approved"], "variant": "mobile"}
    refused = api.post(f"/api/sources/{ids['mug.jpg']}/labels", json=edit)
    assert refused.status_code == 403 and "--allow-edits" in refused.json()["detail"]
    editable = httpx.Client(base_url=serve(env, "--allow-edits"), timeout=30)
    bad = editable.post(f"/api/sources/{ids['mug.jpg']}/labels", json={"kind": "tag", "add": ["Not A Tag!!"]})
    assert bad.status_code == 400 and "Not A Tag!!" in bad.json()["detail"]
    added = editable.post(f"/api/sources/{ids['mug.jpg']}/labels", json=edit)
    assert added.status_code == 200 and added.json()["labels"] == ["approved"]
    assert names(tag="approved") == ["duck.png", "mug.jpg"]
