"""The web app's JSON API, files and safety, against `meshmill serve` on SQLite + folder and PostgreSQL + S3."""

from __future__ import annotations

import io
import re
import socket
import zipfile

import httpx
import pytest
import schemathesis
import trimesh
from fastapi.responses import Response
from hypothesis import HealthCheck, given, settings
from PIL import Image
from schemathesis.checks import not_a_server_error

from catalog.config import web_url
from inference.generators.builtin import VERSION as BUILTIN_VERSION
from orchestration.web.app import MAX_BODY, allowed_hosts
from orchestration.web.state import MAX_LABELS, content_disposition
from tests.support import blob_store, meshmill, scrubbed_env
from tests.support.clients import validate_gltf

# One xdist worker runs the web tests: they share the package's converted catalogs (tests/web/conftest.py).
pytestmark = pytest.mark.xdist_group("web")


@pytest.fixture
def api(served) -> httpx.Client:  # noqa: ANN001
    with httpx.Client(base_url=served.url, timeout=30) as client:
        yield client


def names(api: httpx.Client, **params) -> list[str]:  # noqa: ANN003
    response = api.get("/api/search", params=params)
    assert response.status_code == 200, response.text
    return sorted(r["filename"] for r in response.json()["items"])


def mobile_output(api: httpx.Client, source_id: int) -> dict:
    return next(o for o in api.get(f"/api/sources/{source_id}/variants").json() if o["variant"] == "mobile")


def test_search_filters_by_tag_collection_variant_and_status(api):
    assert names(api) == ["duck.png", "mug.jpg", "rubber-duck", "soccer_ball.png"]
    assert names(api, tag="demo") == ["duck.png", "soccer_ball.png"]
    assert names(api, tag=["demo", "approved"]) == ["duck.png"]
    assert names(api, collection="kitchen") == ["mug.jpg", "rubber-duck"]
    assert names(api, variant="mobile", status="succeeded") == ["duck.png", "mug.jpg", "rubber-duck", "soccer_ball.png"]
    assert names(api, tag="nobody-uses-this") == []


def test_search_pages_by_id(api, served):
    first = api.get("/api/search", params={"limit": 3}).json()
    rest = api.get("/api/search", params={"limit": 3, "before": first["next_before"]}).json()
    assert len(first["items"]) == 3 and len(rest["items"]) == 1 and rest["next_before"] is None
    assert {r["id"] for r in first["items"]} | {r["id"] for r in rest["items"]} == set(served.ids.values())


def test_a_summary_search_lists_the_same_outputs_without_their_details(api):
    full = api.get("/api/search", params={"tag": "demo"}).json()["items"]
    summary = api.get("/api/search", params={"tag": "demo", "summary": "true"}).json()["items"]
    assert [r["id"] for r in summary] == [r["id"] for r in full] and len(full) == 2
    for long, short in zip(full, summary, strict=True):
        assert [(o["id"], o["variant"], o["status"], o["blob_keys"]) for o in long["outputs"]] == [
            (o["id"], o["variant"], o["status"], o["blob_keys"]) for o in short["outputs"]
        ]
        assert all("parameters" in o for o in long["outputs"]) and not any("parameters" in o for o in short["outputs"])


def test_output_detail_has_parameters_attempts_and_dagster_links(api, served):
    variants = api.get(f"/api/sources/{served.ids['duck.png']}/variants").json()
    assert sorted(o["variant"] for o in variants) == ["desktop", "mobile"]
    detail = api.get(f"/api/outputs/{mobile_output(api, served.ids['duck.png'])['id']}").json()
    assert detail["source"]["filename"] == "duck.png" and detail["output"]["parameters"]["target_faces"] == 1200
    partition = f"duck-{detail['source']['content_hash'][:16]}|mobile"  # its name first: the UI's filter finds "duck"
    assert detail["links"]["asset"] == f"http://dagster.studio:3000/assets/textured_glb?view=partitions&partition={partition}"
    assert detail["links"]["run"] == f"http://dagster.studio:3000/runs/{detail['output']['dagster_run_id']}"
    (attempt,) = detail["attempts"]
    assert (attempt["status"], attempt["model_name"], attempt["model_version"]) == ("succeeded", "builtin", BUILTIN_VERSION)
    assert detail["output"]["licences"]["shape"]["model"] == "builtin"  # the licence of every model that made it
    page = api.get(f"/outputs/{detail['output']['id']}").text
    assert 'id="licences"' in page and "builtin: Apache-2.0 (Meshmill&#39;s own, no weights)" in page


def test_downloads_are_valid_files(api, served, tmp_path):
    mobile = mobile_output(api, served.ids["duck.png"])
    glb = api.get(f"/files/outputs/{mobile['id']}/model.glb")
    assert glb.headers["content-type"] == "model/gltf-binary" and 'filename="duck_mobile.glb"' in glb.headers["content-disposition"]
    (tmp_path / "duck.glb").write_bytes(glb.content)
    (report,) = validate_gltf(tmp_path / "duck.glb")
    assert (report["errors"], report["warnings"]) == (0, 0)
    archive = zipfile.ZipFile(io.BytesIO(api.get(f"/files/outputs/{mobile['id']}/obj.zip").content))
    # mobile here has two further levels of detail: their OBJs are in the zip, sharing the MTL and textures
    assert sorted(archive.namelist()) == [
        "duck_mobile.mtl", "duck_mobile.obj", "duck_mobile_LOD1.obj", "duck_mobile_LOD2.obj",
        "duck_mobile_material.jpeg", "duck_mobile_normal.png",
    ]  # fmt: skip
    archive.extractall(tmp_path / "obj")
    obj = trimesh.load(tmp_path / "obj" / "duck_mobile.obj", force="mesh")
    assert abs(len(obj.faces) - mobile["face_count"]) <= 2 and obj.visual.uv is not None
    assert Image.open(io.BytesIO(api.get(f"/files/outputs/{mobile['id']}/preview.png").content)).format == "PNG"


def test_every_format_a_variant_asks_for_is_stored_and_served(api, served, tmp_path):
    mobile = mobile_output(api, served.ids["duck.png"])
    assert mobile["blob_keys"]["fbx"].endswith("/mobile/model.fbx") and mobile["blob_keys"]["usdz"].endswith("/mobile/model.usdz")
    fbx = api.get(f"/files/outputs/{mobile['id']}/model.fbx")
    assert fbx.status_code == 200 and fbx.content.startswith(b"Kaydara FBX Binary")
    assert 'filename="duck_mobile.fbx"' in fbx.headers["content-disposition"]
    usdz = api.get(f"/files/outputs/{mobile['id']}/model.usdz")
    assert usdz.headers["content-type"] == "model/vnd.usdz+zip" and 'filename="duck_mobile.usdz"' in usdz.headers["content-disposition"]
    assert zipfile.ZipFile(io.BytesIO(usdz.content)).namelist()[0] == "duck_mobile.usdc"
    page = api.get(f"/outputs/{mobile['id']}").text
    assert f'href="/files/outputs/{mobile["id"]}/model.fbx"' in page and f'href="/files/outputs/{mobile["id"]}/model.usdz"' in page
    desktop = next(o for o in api.get(f"/api/sources/{served.ids['duck.png']}/variants").json() if o["variant"] == "desktop")
    missing = api.get(f"/files/outputs/{desktop['id']}/model.fbx")
    assert missing.status_code == 404 and "was not written as fbx (it has glb)" in missing.json()["detail"]
    unknown = api.get(f"/files/outputs/{desktop['id']}/model.blend")
    assert unknown.status_code == 404 and "'blend' is not an export format" in unknown.json()["detail"]


def test_a_collection_exports_in_every_format_stored_or_made_from_its_glb(served, tmp_path):
    folder = tmp_path / "out"
    done = meshmill(served.env, "catalog", "export", str(folder), "-c", "toys", "--format", "glb,fbx,usdz,obj")
    assert "wrote 16 files" in done.stdout and "(6 made now from the GLB)" in done.stdout  # desktop's FBX, USDZ, OBJ
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert names == sorted(
        f"toys/{name}_{variant}.{ext}"
        for name in ("duck", "soccer_ball")
        for variant in ("desktop", "mobile")
        for ext in ("glb", "fbx", "usdz", "obj.zip")
    )
    assert (folder / "toys" / "duck_desktop.fbx").read_bytes().startswith(b"Kaydara FBX Binary")
    assert zipfile.ZipFile(folder / "toys" / "duck_desktop.usdz").namelist()[0] == "duck_desktop.usdc"
    packed = tmp_path / "toys.zip"
    done = meshmill(
        served.env, "catalog", "export", str(packed), "-c", "toys", "--variant", "mobile", "-f", "fbx", "--template", "{name}.{ext}"
    )
    assert sorted(zipfile.ZipFile(packed).namelist()) == ["duck.fbx", "soccer_ball.fbx"] and "made now" not in done.stdout
    refused = meshmill(served.env, "catalog", "export", str(folder), "-c", "toys", "--template", "../{name}.{ext}", check=False)
    assert refused.returncode == 2 and "not a path inside the destination" in refused.stderr


def test_a_search_downloads_as_one_zip_in_the_formats_asked_for(api, served):
    page = api.get("/", params={"collection": "toys", "variant": "mobile"}).text
    assert 'action="/files/export.zip"' in page and 'name="collection" value="toys"' in page and 'name="variant" value="mobile"' in page
    assert 'action="/files/export.zip"' not in api.get("/").text  # the whole catalog is not one download
    zipped = api.get("/files/export.zip", params={"collection": "toys", "variant": "mobile", "format": "glb,fbx"})
    assert zipped.status_code == 200 and 'filename="toys_mobile.zip"' in zipped.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(zipped.content))
    assert sorted(archive.namelist()) == ["duck_mobile.fbx", "duck_mobile.glb", "soccer_ball_mobile.fbx", "soccer_ball_mobile.glb"]
    duck = mobile_output(api, served.ids["duck.png"])["id"]
    assert archive.read("duck_mobile.glb") == api.get(f"/files/outputs/{duck}/model.glb").content
    assert archive.read("duck_mobile.fbx") == api.get(f"/files/outputs/{duck}/model.fbx").content
    by_tags = zipfile.ZipFile(io.BytesIO(api.get("/files/export.zip", params={"tag": "demo, approved"}).content))
    assert sorted(by_tags.namelist()) == ["duck_desktop.glb", "duck_mobile.glb"]
    for params, status, message in [
        ({}, 400, "say what to download"),
        ({"collection": "toys", "format": "blend"}, 400, "format 'blend' is unknown"),
        ({"tag": "Not A Tag!"}, 400, "tag"),
        ({"collection": "nobody-has-this"}, 404, "no made output matches this search"),
    ]:
        refused = api.get("/files/export.zip", params=params)
        assert refused.status_code == status and message in refused.json()["detail"], refused.text


def test_image_stage_downloads(api, served):
    mug = served.ids["mug.jpg"]
    assert Image.open(io.BytesIO(api.get(f"/files/sources/{mug}/image").content)).size == (512, 512)
    cleaned = Image.open(io.BytesIO(api.get(f"/files/sources/{mug}/cleaned.png").content))
    upscaled = Image.open(io.BytesIO(api.get(f"/files/sources/{mug}/upscaled.png").content))
    assert cleaned.mode == upscaled.mode == "RGBA"
    assert upscaled.width == upscaled.height >= 512  # the front view, framed for the 3D stages


def test_a_view_set_shows_and_serves_every_view(api, served):
    """The rubber duck was given as four views: the API lists them, each is served, and its outputs used them all."""
    source_id = served.ids["rubber-duck"]
    mobile = mobile_output(api, source_id)
    detail = api.get(f"/api/outputs/{mobile['id']}").json()
    assert [v["view"] for v in detail["source"]["views"]] == ["front", "left", "back", "right"]
    assert [v["filename"] for v in detail["source"]["views"]] == ["front.png", "left.png", "back.png", "right.png"]
    assert detail["output"]["views"] == ["front", "left", "back", "right"]
    for view in ("front", "left", "back", "right"):
        picture = api.get(f"/files/sources/{source_id}/image", params={"view": view})
        assert picture.status_code == 200 and f'filename="rubber-duck_{view}.png"' in picture.headers["content-disposition"]
        assert Image.open(io.BytesIO(picture.content)).size == (192, 192)
        framed = Image.open(io.BytesIO(api.get(f"/files/sources/{source_id}/upscaled.png", params={"view": view}).content))
        assert framed.mode == "RGBA" and framed.width == framed.height >= 512
    page = api.get(f"/outputs/{mobile['id']}").text
    assert page.count('class="source-image"') == 4 and "made from front, left, back, right" in page
    missing = api.get(f"/files/sources/{source_id}/image", params={"view": "top"})
    assert missing.status_code == 404 and f"source image {source_id} has no top view" in missing.json()["detail"]
    single = api.get(f"/files/sources/{served.ids['mug.jpg']}/image", params={"view": "left"})
    assert single.status_code == 404 and "has no left view" in single.json()["detail"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/outputs/99999", "output 99999 does not exist"),
        ("/files/outputs/99999/model.glb", "output 99999 does not exist"),
        ("/api/sources/99999/variants", "source image 99999 does not exist"),
        ("/api/outputs/abc", "no such output: 'abc'"),
        ("/files/sources/{duck}/mesh.png", "no stage 'mesh'"),
    ],
)
def test_bad_ids_answer_404_naming_what_is_missing(api, served, path, message):
    response = api.get(path.format(duck=served.ids["duck.png"]))
    assert response.status_code == 404 and message in response.json()["detail"], response.text


def test_a_missing_output_page_is_a_404_page(api):
    page = api.get("/outputs/99999")
    assert page.status_code == 404 and "output 99999 does not exist" in page.text


@pytest.mark.parametrize(
    "path",
    [
        "/files/sources/1/..%2F..%2Fcatalog.db",
        "/static/..%2F..%2F..%2Fpyproject.toml",
        "/vendor/three/..%2F..%2Fpackage.json",
        "/static/../app.py",
    ],
)
def test_no_way_out_of_the_served_folders(api, path):
    assert api.get(path).status_code == 404


def test_hostile_label_filters_are_refused_or_match_nothing(api):
    for params in ({"tag": "x' OR 1=1 --"}, {"collection": "kitchen'; DROP TABLE output; --"}):
        hostile = api.get("/api/search", params=params)
        assert hostile.status_code == 400 and "'" in hostile.json()["detail"], hostile.text
    assert names(api, variant="mobile' OR '1'='1") == []
    assert names(api) == ["duck.png", "mug.jpg", "rubber-duck", "soccer_ball.png"]  # everything still there


def test_edits_are_refused_unless_allowed(api, served, serve):
    mug = served.ids["mug.jpg"]
    edit = {"kind": "tag", "add": ["approved"], "variant": "mobile"}
    refused = api.post(f"/api/sources/{mug}/labels", json=edit)
    assert refused.status_code == 403 and "--allow-edits" in refused.json()["detail"]
    editable = httpx.Client(base_url=serve(served.env, "--allow-edits"), timeout=30)
    bad = editable.post(f"/api/sources/{mug}/labels", json={"kind": "tag", "add": ["Not A Tag!!"]})
    assert bad.status_code == 400 and "Not A Tag!!" in bad.json()["detail"]
    added = editable.post(f"/api/sources/{mug}/labels", json=edit)
    assert added.status_code == 200 and added.json()["labels"] == ["approved"]
    assert names(api, tag="approved") == ["duck.png", "mug.jpg"]


ANA, BO = "ana-" + "a1" * 10, "bo-" + "b2" * 10  # edit tokens (at least 16 characters)


def test_reviewers_approve_reject_and_ask_again_under_their_own_tokens(api, served, serve):
    """Review where the art lead looks: every edit carries a reviewer's token and is recorded under their name; the
    latest decision filters searches and the export; "another seed" defines the variant the remake sensor queues."""
    env = {**served.env, "MESHMILL_EDIT_TOKENS": f"ana={ANA}, bo={BO}"}
    editable = httpx.Client(base_url=serve(env, "--allow-edits"), timeout=30)
    mug, duck = (mobile_output(api, served.ids[name])["id"] for name in ("mug.jpg", "rubber-duck"))
    approve = {"decision": "approved", "note": "ship it"}
    assert editable.post(f"/api/outputs/{mug}/review", json=approve).status_code == 401  # no token
    wrong = editable.post(f"/api/outputs/{mug}/review", json=approve, headers={"Authorization": "Bearer " + "x" * 20})
    assert wrong.status_code == 401 and "MESHMILL_EDIT_TOKENS" in wrong.json()["detail"]
    assert editable.post(f"/api/sources/{served.ids['mug.jpg']}/labels", json={"kind": "tag", "add": ["x"]}).status_code == 401
    assert api.post(f"/api/outputs/{mug}/review", json=approve).status_code == 403  # the read-only server

    as_ana = {"Authorization": f"Bearer {ANA}"}
    approved = editable.post(f"/api/outputs/{mug}/review", json=approve, headers=as_ana)
    assert approved.status_code == 200 and (approved.json()["reviewer"], approved.json()["note"]) == ("ana", "ship it")
    assert editable.post(f"/api/outputs/{duck}/review", json={"decision": "rejected"}, headers=as_ana).status_code == 200
    bad = editable.post(f"/api/outputs/{duck}/review", json={"decision": "remake"}, headers=as_ana)
    assert bad.status_code == 400 and "use approved or rejected" in bad.json()["detail"]
    assert editable.post("/api/outputs/999999/review", json=approve, headers=as_ana).status_code == 404

    assert names(api, collection="kitchen", review="approved") == ["mug.jpg"]
    assert names(api, collection="kitchen", review="rejected") == ["rubber-duck"]
    assert api.get("/api/search", params={"review": "liked"}).status_code == 400
    exported = api.get("/files/export.zip", params={"collection": "kitchen", "review": "approved"})
    assert zipfile.ZipFile(io.BytesIO(exported.content)).namelist() == ["mug_mobile.glb"]
    page = api.get(f"/outputs/{mug}").text
    assert 'id="review-state" class="review approved"' in page and "by ana" in page and "ship it" in page
    search_page = api.get("/", params={"collection": "kitchen", "review": "approved"}).text
    assert '<option value="approved" selected>' in search_page and '<input type="hidden" name="review" value="approved">' in search_page

    # a browser signs in once (an HttpOnly cookie) and asks for the output again with another seed
    assert editable.post("/api/session", json={"token": "y" * 20}).status_code == 401
    signed = editable.post("/api/session", json={"token": BO})
    assert signed.json() == {"reviewer": "bo"} and "httponly" in signed.headers["set-cookie"].lower()
    assert "samesite=strict" in signed.headers["set-cookie"].lower()
    assert 'id="review-form"' in editable.get(f"/outputs/{mug}").text and "reviewing as bo" in editable.get(f"/outputs/{mug}").text
    again = editable.post(f"/api/outputs/{mug}/remake", json={"note": "the handle is thin"})
    assert again.status_code == 200 and (again.json()["variant"], again.json()["reviewer"]) == (None, "bo")  # the sensor picks it
    as_variant = editable.post(f"/api/outputs/{mug}/remake", json={"variant": "no-such-variant"})
    assert as_variant.status_code == 400 and "variant 'no-such-variant' does not exist" in as_variant.json()["detail"]
    history = api.get(f"/api/outputs/{mug}/reviews").json()
    assert [(r["decision"], r["reviewer"], r["variant"]) for r in history] == [("approved", "ana", None), ("remake", "bo", None)]
    assert api.get(f"/outputs/{mug}").text.count("by ana") == 1  # a remake does not change the decision shown
    editable.delete("/api/session")
    assert editable.post(f"/api/outputs/{mug}/remake", json={}).status_code == 401  # signed out


def test_serve_refuses_edits_off_loopback_without_tokens_and_weak_tokens(served):
    open_edits = meshmill(served.env, "serve", "--host", "0.0.0.0", "--allow-edits", check=False)
    assert open_edits.returncode == 2 and "needs reviewers' tokens in MESHMILL_EDIT_TOKENS" in open_edits.stderr
    weak = meshmill({**served.env, "MESHMILL_EDIT_TOKENS": "ana=short"}, "serve", "--allow-edits", check=False)
    assert weak.returncode == 2 and "ana's token is 5 characters; use at least 16" in weak.stderr


# --- hardening: what any browser or script may send -----------------------------------------------------


def inline_scripts_without(nonce: str, page: str) -> list[str]:
    """The page's inline <script> tags that do not carry ``nonce`` (a script with a src is the app's own file)."""
    return [tag for tag in re.findall(r"<script\b[^>]*>", page) if "src=" not in tag and f'nonce="{nonce}"' not in tag]


def test_every_response_carries_security_headers_and_pages_run_only_their_own_scripts(api, served):
    output = mobile_output(api, served.ids["duck.png"])
    nonces = set()
    for path in ("/", f"/outputs/{output['id']}", f"/compare?image={served.ids['duck.png']}"):
        page = api.get(path)
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy and "default-src 'self'" in policy
        nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
        assert inline_scripts_without(nonce, page.text) == [] and f'nonce="{nonce}"' in page.text
        nonces.add(nonce)
    assert len(nonces) == 3  # a new one per response
    for path in ("/api/search", f"/files/outputs/{output['id']}/model.glb", "/static/viewer.js"):
        headers = api.get(path).headers
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"


def test_a_request_naming_another_host_is_refused(api):
    """DNS rebinding: a page of another site that resolves its own name to 127.0.0.1 sends its own Host. The
    refusal carries the headers every response carries (it used to come from outside them)."""
    refused = api.get("/api/search", headers={"host": "rebind.example"})
    assert refused.status_code == 400
    assert refused.headers["x-content-type-options"] == "nosniff" and "frame-ancestors 'none'" in refused.headers["content-security-policy"]
    port = httpx.URL(str(api.base_url)).port
    assert api.get("/api/search", headers={"host": f"localhost:{port}"}).status_code == 200


def test_allowed_hosts_add_the_bind_and_on_a_wildcard_this_machines_names():
    assert allowed_hosts("10.1.2.3", ["assets.studio"])[-2:] == ["assets.studio", "10.1.2.3"]
    wildcard = allowed_hosts("0.0.0.0")
    assert socket.gethostname() in wildcard and "0.0.0.0" not in wildcard and "127.0.0.1" in wildcard


@pytest.mark.parametrize(
    "path", [f"/outputs/{2**31}", f"/api/outputs/{2**64}", f"/files/outputs/{2**63}/model.glb", f"/api/sources/{10**30}/variants"]
)
def test_an_id_past_the_catalogs_ids_names_nothing(api, path):
    """The ids are SQL INTEGER: PostgreSQL would answer an error, not "none", for one past 2³¹ − 1."""
    response = api.get(path)
    assert response.status_code == 404, response.text


@pytest.mark.parametrize("ids", ["\u00b2", "\u2460", "1,\u00b3"])
def test_digits_that_are_not_decimal_are_a_bad_request(api, ids):
    """'²' and '①' pass str.isdigit, and int() then raised: a 500."""
    response = api.get("/compare", params={"ids": ids})
    assert response.status_code == 400, response.text


def test_a_failure_inside_the_app_is_a_500_with_the_security_headers(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from orchestration.web.app import create_app

    monkeypatch.setenv("MESHMILL_HOME", str(tmp_path))
    app = create_app(hosts=["testserver"])

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a defect")

    response = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert response.status_code == 500 and "failed" in response.json()["detail"]
    assert response.headers["x-frame-options"] == "DENY" and "default-src 'self'" in response.headers["content-security-policy"]


def test_downloads_answer_head_with_the_size_and_no_body(api, served):
    """HEAD of a download (a client checking a file before fetching it) was a 405; it answers as GET would, without the body."""
    output = mobile_output(api, served.ids["duck.png"])
    for path in (f"/files/outputs/{output['id']}/model.glb", f"/files/outputs/{output['id']}/preview.png",
                 f"/files/sources/{served.ids['duck.png']}/image"):  # fmt: skip
        got, head = api.get(path), api.head(path)
        assert head.status_code == 200 and head.content == b"", path
        assert head.headers["content-length"] == str(len(got.content)) and head.headers["content-type"] == got.headers["content-type"]
        assert head.headers["x-content-type-options"] == "nosniff"
    assert api.head("/files/outputs/999999/model.glb").status_code == 404


def test_downloads_answer_a_byte_range(api, served):
    """A client resuming a download or reading a file's head asks for a range (it got the whole file with 200):
    one range answers 206 with its Content-Range, a range past the end 416, a header it cannot use the whole file."""
    output = mobile_output(api, served.ids["duck.png"])
    path = f"/files/outputs/{output['id']}/model.glb"
    whole = api.get(path).content
    size = len(whole)
    assert api.head(path).headers["accept-ranges"] == "bytes"
    for asked, first, last in (("bytes=0-3", 0, 3), ("bytes=-12", size - 12, size - 1), (f"bytes=100-{size * 2}", 100, size - 1)):
        part = api.get(path, headers={"Range": asked})
        assert part.status_code == 206, asked
        assert part.content == whole[first : last + 1] and part.headers["content-range"] == f"bytes {first}-{last}/{size}", asked
        assert part.headers["content-length"] == str(last + 1 - first) and part.headers["x-content-type-options"] == "nosniff"
    assert api.get(path, headers={"Range": "bytes=0-3"}).content == b"glTF"
    past = api.get(path, headers={"Range": f"bytes={size}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{size}" and past.content == b""
    for ignored in ("bytes=0-1,4-5", "lines=1-2", "bytes=5-2", "bytes=x-"):
        got = api.get(path, headers={"Range": ignored})
        assert got.status_code == 200 and got.content == whole, ignored
    source = api.get(f"/files/sources/{served.ids['duck.png']}/image", headers={"Range": "bytes=1-3"})
    assert source.status_code == 206 and source.content == b"PNG"


def test_a_glb_damaged_in_the_store_is_a_named_error_not_its_bytes(api, served):
    """A GLB cut short in the store is not served as if whole (it was, with 200), and an OBJ made from a GLB that
    cannot be read is a named error (it was a bare 500 from trimesh): both name the output and what is wrong."""
    outputs = api.get(f"/api/sources/{served.ids['duck.png']}/variants").json()
    output = next(o for o in outputs if not o["blob_keys"].get("obj"))  # its OBJ is made from the GLB when asked for
    key, store = output["blob_keys"]["glb"], blob_store(served.env)
    whole = store.get(key)
    try:
        store.put(key, whole[:1000])
        for file in ("model.glb", "obj.zip"):
            response = api.get(f"/files/outputs/{output['id']}/{file}")
            assert response.status_code == 500 and response.headers["x-content-type-options"] == "nosniff"
            named = f"output {output['id']}'s GLB is damaged in the blob store (1,000 bytes of the {len(whole):,} written)"
            assert named in response.json()["detail"]
        store.put(key, bytes(len(whole)))  # the size written, but not a GLB
        response = api.get(f"/files/outputs/{output['id']}/obj.zip")
        assert response.status_code == 500 and "GLB is damaged in the blob store" in response.json()["detail"]
    finally:
        store.put(key, whole)
    assert api.get(f"/files/outputs/{output['id']}/model.glb").content == whole


def test_oversized_requests_are_refused_before_any_work(api, served):
    assert api.get("/api/search", params={"before": 2**31}).status_code == 400
    many = api.get("/compare", params={"ids": ",".join(map(str, range(1, 6001)))})
    assert many.status_code == 400 and "6,000 ids were given" in many.text
    source = served.ids["duck.png"]
    too_many = api.post(f"/api/sources/{source}/labels", json={"kind": "tag", "add": [f"t{i}" for i in range(MAX_LABELS + 1)]})
    assert too_many.status_code == 400 and "add" in too_many.json()["detail"]
    huge = api.post(f"/api/sources/{source}/labels", json={"kind": "tag", "add": ["x" * (MAX_BODY + 1)]})
    assert huge.status_code == 413


def test_download_names_follow_rfc_6266():
    value = content_disposition("attachment", 'Ente "gelb"\n鸭子.glb')
    assert value == "attachment; filename=\"Ente _gelb___.glb\"; filename*=UTF-8''Ente%20%22gelb%22%E9%B8%AD%E5%AD%90.glb"
    assert Response(headers={"Content-Disposition": value}).headers["content-disposition"] == value  # Latin-1 safe


def test_no_request_the_openapi_schema_allows_gets_a_server_error(served):
    """schemathesis draws requests for every operation of the app's own schema (ids, limits, labels, files)."""
    schema = schemathesis.openapi.from_url(f"{served.url}/api/openapi.json")
    failures, operations = [], []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations.append(operation.label)

        @given(operation.as_strategy())
        @settings(max_examples=20, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=[not_a_server_error])

        try:
            call()
        except Exception as exc:  # noqa: BLE001 - every operation is tried; the failures are reported together
            failures.append(f"{operation.label}: {str(exc)[:600]}")
    assert len(operations) >= 12 and failures == [], failures


def test_serve_refuses_a_taken_port_in_one_line_and_dagster_links_to_where_it_answers(serve, tmp_path, monkeypatch):
    env = scrubbed_env(tmp_path / "home")
    url = serve(env)
    monkeypatch.setenv("MESHMILL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MESHMILL_WEB_URL", raising=False)
    assert web_url() == url  # the output_page link of outputs made from now on
    port = url.rsplit(":", 1)[1]
    taken = meshmill(env, "serve", "--port", port, check=False)
    assert taken.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in taken.stderr and "Traceback" not in taken.stderr
    assert "Meshmill catalog on" not in taken.stdout  # no address announced that does not answer
    monkeypatch.setenv("MESHMILL_WEB_URL", "http://catalog.studio/")
    assert web_url() == "http://catalog.studio"
