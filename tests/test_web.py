"""`privobf serve`'s API through FastAPI's test client, on a tiny model trained on synthetic scenes."""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="the web page needs the serve extra: pip install 'privobf[serve]'")
pytest.importorskip("httpx", reason="FastAPI's test client needs httpx")

from fastapi.testclient import TestClient  # noqa: E402

from privobf.metadata import GPS_IFD, exif_tags  # noqa: E402
from privobf.scanning import Scanner  # noqa: E402
from privobf.web.app import create_app  # noqa: E402
from privobf.web.uploads import download_name, sanitise_file_name  # noqa: E402

STATIC = Path(__file__).resolve().parents[1] / "src" / "privobf" / "web" / "static"


@pytest.fixture(scope="module")
def scanner(tiny_model):
    return Scanner(tiny_model, prior_set=None)


@pytest.fixture
def client(scanner):
    return TestClient(create_app(scanner))


def photo(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    image[20:50, 30:70] = (240, 220, 60)  # a "face" square of the synthetic scenes
    return image


def encoded(pixels: np.ndarray, format: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=format, **options)
    return buffer.getvalue()


def gps_jpeg(pixels: np.ndarray) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make: a technical tag that keep_metadata keeps
    exif[0x013B] = "Jane Doe"  # Artist: identifying, always removed
    exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 7.0)}
    return encoded(pixels, "JPEG", quality=95, exif=exif.tobytes())


def upload(client: TestClient, data: bytes, name: str = "photo.png", content_type: str = "image/png"):
    return client.post("/api/scan", files={"file": (name, data, content_type)})


def scanned(client: TestClient, data: bytes, name: str = "photo.png") -> dict:
    response = upload(client, data, name)
    assert response.status_code == 200, response.text
    return response.json()


def hide(client: TestClient, token: str, **options):
    return client.post("/api/obfuscate", json={"token": token, **options})


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def error_of(response) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    assert "\n" not in body["error"] and "Traceback" not in body["error"]
    return body["error"]


# ----------------------------------------------------------------------------------------------- the page


def test_page_and_static_files_are_served_without_external_urls(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/app.js"' in page.text and 'role="alert"' in page.text
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
    for path in STATIC.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"https?://", text, re.IGNORECASE), f"{path.name} names an external URL"
        assert "//cdn" not in text and "@import" not in text
    # No route leads from a request path to the file system, and FastAPI's CDN-backed docs are off.
    assert client.get("/static/..%2F__init__.py").status_code == 404
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/docs").status_code == 404 and client.get("/openapi.json").status_code == 404


def test_security_headers_on_every_response(client):
    for response in (client.get("/"), client.get("/static/app.js"), client.get("/api/overlay/nope"), hide(client, "nope")):
        headers = response.headers
        assert headers["cache-control"] == "no-store"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "img-src 'self' blob: data:" in csp
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp


def test_cross_site_posts_and_unknown_hosts_are_refused(scanner):
    client = TestClient(create_app(scanner, allowed_hosts=["127.0.0.1", "localhost"]), base_url="http://127.0.0.1:8765")
    assert client.get("/").status_code == 200
    evil = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    refused = client.post("/api/scan", files={"file": ("a.png", encoded(photo()), "image/png")}, headers=evil)
    assert refused.status_code == 403 and "cross-site" in error_of(refused)
    rebinding = client.get("/", headers={"Host": "attacker.example:8765"})
    assert rebinding.status_code == 403 and "Host" in error_of(rebinding)
    same_site = client.post("/api/scan", files={"file": ("a.png", encoded(photo()), "image/png")},
                            headers={"Origin": "http://127.0.0.1:8765"})
    assert same_site.status_code == 200, same_site.text


# ----------------------------------------------------------------------------------------------- scan and overlay


def test_scan_answers_everything_the_page_shows(client, scanner):
    body = scanned(client, encoded(photo()))
    assert len(body["token"]) >= 32 and body["file_name"] == "photo.png"
    assert body["image"] == {"width": 128, "height": 96, "format": "PNG"}
    assert 0.0 <= body["privacy_score"] <= 1.0 and body["privacy_level"] in ("low", "medium", "high")
    assert body["privacy_level_text"]
    ids = [a["id"] for a in body["attributes"]]
    assert sorted(ids) == sorted(i for i in scanner.vocabulary.ids if i != "a0_safe")
    probabilities = [a["probability"] for a in body["attributes"]]
    assert probabilities == sorted(probabilities, reverse=True)
    for entry in body["attributes"]:
        assert set(entry) >= {"id", "short_name", "description", "probability", "is_text", "present"}
    assert [a["id"] for a in body["present"]] == [a["id"] for a in body["attributes"] if a["present"]]
    names = {a["id"]: a for a in body["attributes"]}
    assert names["a19_name_full"]["is_text"] and not names["a9_face_complete"]["is_text"]
    assert body["overlay_url"] == f"/api/overlay/{body['token']}"
    assert body["metadata"] == {"exif": False, "identifying": [], "icc_profile": False}


def test_overlay_is_a_png_of_the_photo_no_larger_than_1024(client):
    big = scanned(client, encoded(photo(600, 2048)), "wide.png")
    response = client.get(big["overlay_url"], params={"attributes": "a9_face_complete,x1_person_body"})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    overlay = decode(response.content)
    assert overlay.format == "PNG" and overlay.size == (1024, 300)
    assert big["overlay_size"] == {"width": 1024, "height": 300}
    plain = decode(client.get(big["overlay_url"], params={"attributes": ""}).content)
    assert np.asarray(plain).shape == np.asarray(overlay).shape and not np.array_equal(np.asarray(plain), np.asarray(overlay))
    small = scanned(client, encoded(photo()))
    jpeg = client.get(small["overlay_url"], params={"attributes": "face", "format": "jpeg"})
    assert jpeg.headers["content-type"] == "image/jpeg" and decode(jpeg.content).size == (128, 96)
    unknown = client.get(small["overlay_url"], params={"attributes": "face_complet"})
    assert unknown.status_code == 400 and "did you mean 'face_complete'" in error_of(unknown)


# ----------------------------------------------------------------------------------------------- obfuscate


def test_obfuscate_changes_only_the_masked_pixels(client, scanner):
    pixels = photo()
    body = scanned(client, encoded(pixels))
    response = hide(client, body["token"], hide=["a9_face_complete", "x1_person_body"], mode="solid")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-disposition"].startswith('attachment; filename="photo.privobf.png"')
    result = np.asarray(decode(response.content).convert("RGB"))
    assert result.shape == pixels.shape
    mask_response = hide(client, body["token"], hide=["a9_face_complete", "x1_person_body"], mode="mask-only")
    assert mask_response.headers["content-disposition"].startswith('attachment; filename="photo.privobf.mask.png"')
    mask = np.asarray(decode(mask_response.content)) > 0
    assert mask.shape == pixels.shape[:2] and mask.any(), "the tiny model's maps should cover something"
    np.testing.assert_array_equal(result[~mask], pixels[~mask])
    assert not np.array_equal(result[mask], pixels[mask])
    assert set(response.headers["x-privobf-hidden"].split(",")) == {"a9_face_complete", "x1_person_body"}


@pytest.mark.parametrize("mode", ["blur", "pixelate"])
def test_obfuscate_modes_and_strength(client, mode):
    pixels = photo()
    body = scanned(client, encoded(pixels))
    response = hide(client, body["token"], hide=["face"], mode=mode, strength=0.3, format="png")
    assert response.status_code == 200, response.text
    assert decode(response.content).size == (128, 96)
    too_strong = hide(client, body["token"], hide=["face"], mode=mode, strength=5)
    assert too_strong.status_code == 400 and "strength" in error_of(too_strong)


def test_obfuscate_strips_exif_by_default_and_keeps_only_technical_tags_on_request(client):
    pixels = photo()
    body = scanned(client, gps_jpeg(pixels), "holiday.jpg")
    assert body["metadata"]["exif"] and "GPSInfo" in body["metadata"]["identifying"]
    stripped = hide(client, body["token"], hide=["face"])
    assert stripped.status_code == 200 and stripped.headers["content-type"] == "image/jpeg"
    assert 'filename="holiday.privobf.jpg"' in stripped.headers["content-disposition"]
    assert decode(stripped.content).getexif().get_ifd(GPS_IFD) == {}
    assert exif_tags(stripped.content) == {}
    kept = hide(client, body["token"], hide=["face"], keep_metadata=True)
    tags = exif_tags(kept.content)
    assert tags.get("Make") == "TestCam" and "GPSInfo" not in tags and "Artist" not in tags
    as_png = hide(client, body["token"], hide=[], format="png")
    assert as_png.headers["content-type"] == "image/png" and "GPSInfo" not in exif_tags(as_png.content)


def test_unknown_token_mode_attribute_and_fields_are_explained(client):
    assert error_of(hide(client, "no-such-token", hide=["face"])) == "this upload has expired; upload it again"
    assert hide(client, "no-such-token").status_code == 404
    assert client.get("/api/overlay/no-such-token").status_code == 404
    token = scanned(client, encoded(photo()))["token"]
    bad_mode = hide(client, token, mode="blurr")
    assert bad_mode.status_code == 400 and "did you mean 'blur'" in error_of(bad_mode)
    bad_id = hide(client, token, hide=["face_complet"])
    assert bad_id.status_code == 400 and "did you mean 'face_complete'" in error_of(bad_id)
    bad_field = hide(client, token, hidden=["face"])
    assert bad_field.status_code == 400 and "hidden" in error_of(bad_field)
    bad_format = hide(client, token, format="gif")
    assert bad_format.status_code == 400 and "gif" in error_of(bad_format)
    not_json = client.post("/api/obfuscate", content=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400


def test_the_cache_forgets_the_oldest_upload(scanner):
    client = TestClient(create_app(scanner, cache_entries=2))
    tokens = [scanned(client, encoded(photo(seed=seed)))["token"] for seed in range(3)]
    assert hide(client, tokens[0]).status_code == 404
    assert hide(client, tokens[2]).status_code == 200


# ----------------------------------------------------------------------------------------------- bad input


def test_too_large_upload_is_cut_off_with_413(scanner):
    client = TestClient(create_app(scanner, max_upload_bytes=10_000))
    big = encoded(photo(200, 200))
    assert len(big) > 10_000
    response = upload(client, big, "big.png")
    assert response.status_code == 413 and "big.png" in error_of(response) and "limit" in error_of(response)

    head = b'--abc\r\nContent-Disposition: form-data; name="file"; filename="stream.png"\r\n\r\n'
    multipart = {"Content-Type": "multipart/form-data; boundary=abc"}

    def chunks():  # no Content-Length: only the counted bytes can stop it
        yield head
        for _ in range(100):
            yield b"x" * 8192

    streamed = client.post("/api/scan", content=chunks(), headers=multipart)
    assert streamed.status_code == 413 and "stream.png" in error_of(streamed)
    lying = client.post("/api/scan", content=head + b"y" * 200_000, headers={**multipart, "Content-Length": "10"})
    assert lying.status_code == 413


def call_asgi(app, method: str, path: str, headers: dict[str, str], messages: list[dict]) -> list[dict]:
    """Drive the ASGI app directly with these `receive` messages (the last one repeats): what a client
    that goes away mid-request looks like, which the test client cannot do."""
    import asyncio

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver")] + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }
    pending, sent = list(messages), []

    async def receive() -> dict:
        return pending.pop(0) if len(pending) > 1 else pending[0]

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_a_client_that_disconnects_mid_upload_is_one_log_line(scanner, caplog):
    """Issue 16: a closed tab in the middle of an upload was logged as "request failed" with a traceback."""
    head = b'--abc\r\nContent-Disposition: form-data; name="file"; filename="gone.png"\r\n\r\n'
    messages = [{"type": "http.request", "body": head + b"x" * 5000, "more_body": True}, {"type": "http.disconnect"}]
    with caplog.at_level("INFO", logger="privobf"):
        sent = call_asgi(create_app(scanner), "POST", "/api/scan",
                         {"Content-Type": "multipart/form-data; boundary=abc"}, messages)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 400
    records = [record for record in caplog.records if record.name.startswith("privobf")]
    assert not any(record.exc_info for record in records), [record.getMessage() for record in records]
    assert [record.getMessage() for record in records if "disconnected" in record.getMessage()] != []
    assert len(records) == 1 and "\n" not in records[0].getMessage()


def test_huge_dimensions_are_refused_before_decoding(client, scanner):
    bomb = encoded_huge_png(30_000, 30_000)
    assert len(bomb) < 2_000_000
    response = upload(client, bomb, "bomb.png")
    assert response.status_code == 413
    assert error_of(response).startswith("bomb.png: 30000×30000") and "limit" in error_of(response)
    message = error_of(response)
    assert "40-megapixel limit" in message and "privobf serve with a larger --max-megapixels" in message
    assert "max_pixels" not in error_of(response), "imageio's hint is for Python callers, not for the page"
    small_limit = TestClient(create_app(scanner, max_pixels=5_000))
    assert upload(small_limit, encoded(photo()), "p.png").status_code == 413


def encoded_huge_png(width: int, height: int) -> bytes:
    """A valid PNG header for a huge grey image with almost no data: what a decompression bomb looks like."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + width // 8) * 16, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def test_corrupt_and_non_image_uploads_name_the_file(client):
    corrupt = upload(client, b"\xff\xd8\xff\xe0 not really a jpeg", "broken.jpg", "image/jpeg")
    assert corrupt.status_code == 400 and error_of(corrupt).startswith("broken.jpg: ")
    truncated = upload(client, encoded(photo())[:300], "cut.png")
    assert truncated.status_code == 400 and error_of(truncated).startswith("cut.png: ")
    text = upload(client, b"hello, this is text", "notes.txt", "text/plain")
    assert text.status_code == 415 and error_of(text).startswith("notes.txt: not an image")
    empty = upload(client, b"", "empty.png")
    assert empty.status_code == 400 and "empty.png" in error_of(empty)
    no_file = client.post("/api/scan", data={"other": "value"}, files={"x": (None, b"1")})
    assert no_file.status_code == 400 and "no file" in error_of(no_file)
    not_multipart = client.post("/api/scan", content=encoded(photo()), headers={"Content-Type": "image/png"})
    assert not_multipart.status_code == 415


def lying_jpeg(height: int, width: int) -> bytes:
    """A real 64x48 JPEG (under 1 kB) whose frame header (SOF0) claims height x width pixels."""
    y, x = np.mgrid[0:48, 0:64]
    data = bytearray(encoded(np.stack([x * 4, y * 5, (x + y) * 2], -1).astype(np.uint8), "JPEG", quality=50))
    sof = data.index(b"\xff\xc0")  # marker, length (2 bytes), precision (1), height (2), width (2)
    data[sof + 5:sof + 7] = height.to_bytes(2, "big")
    data[sof + 7:sof + 9] = width.to_bytes(2, "big")
    return bytes(data)


def test_a_jpeg_whose_header_lies_about_its_size_is_refused(client):
    """Issue 16: 800 bytes claiming 6300x6300 pixels (under the 40-megapixel limit) used to be answered 200
    after decoding 40 megapixels of grey; the loader now sees the data end long before the frame does."""
    response = upload(client, lying_jpeg(6300, 6300), "lie.jpg", "image/jpeg")
    assert response.status_code == 400, response.text
    assert error_of(response).startswith("lie.jpg: ")


@pytest.mark.parametrize("name", ["../../etc/passwd.jpg", "..\\..\\x.png", "/abs/..%2f/a\x1bb\x7f.png",
                                  "\u202egnp.exe", "..", ""])
def test_client_file_names_are_only_labels(client, name):
    body = scanned(client, encoded(photo()), name)
    header = hide(client, body["token"], format="png").headers["content-disposition"]
    fallback = re.search(r'filename="([^"]*)"', header).group(1)
    exact = unquote(re.search(r"filename\*=UTF-8''(\S+)", header).group(1))
    for label in (body["file_name"], fallback, exact):
        assert label and "/" not in label and "\\" not in label and ".." not in label
        assert not any(ord(ch) < 32 or ch in "\x7f\u202e" for ch in label)
    assert exact.endswith(".privobf.png")


def test_sanitise_file_name():
    assert sanitise_file_name("../../etc/passwd.jpg") == "passwd.jpg"
    assert sanitise_file_name("..\\..\\x.png") == "x.png"
    assert sanitise_file_name("C:\\Users\\me\\Pictures\\cat.jpeg") == "cat.jpeg"
    assert sanitise_file_name('a"b;c.png') == "a_b_c.png"
    assert sanitise_file_name("....") == "upload" and sanitise_file_name(None) == "upload"
    long = sanitise_file_name("x" * 500 + ".jpeg")
    assert len(long) <= 120 and long.endswith(".jpeg")
    assert download_name("photo.jpg", ".png") == "photo.privobf.png"
    assert download_name("noext", ".jpg") == "noext.privobf.jpg"


# ----------------------------------------------------------------------------------------------- no disk


def test_nothing_is_written_to_disk(scanner, tmp_path, monkeypatch):
    """Uploads of every size stay in memory: cwd and the temporary folder stay empty (Starlette's own form
    parser would spool files above 1 MB to TMPDIR)."""
    work, temp = tmp_path / "cwd", tmp_path / "tmp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    client = TestClient(create_app(scanner))
    large = encoded(photo(900, 1000), "PNG", compress_level=0)  # above any spooling threshold
    assert len(large) > 2_000_000
    body = scanned(client, large, "large.png")
    assert client.get(body["overlay_url"]).status_code == 200
    assert hide(client, body["token"], hide=["face"], mode="blur").status_code == 200
    assert hide(client, body["token"], hide=["face"], mode="mask-only").status_code == 200
    assert list(work.iterdir()) == [] and list(temp.iterdir()) == []


# ----------------------------------------------------------------------------------------------- privobf serve


def serve_arguments(*argv: str):
    import argparse

    from privobf.web.server import add_serve_arguments

    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return parser.parse_args(list(argv))


def test_serve_arguments_default_to_this_computer_only():
    from privobf.web.server import is_loopback, page_url

    args = serve_arguments()
    assert (args.host, args.port, args.priors, args.max_upload_mb, args.max_megapixels) == ("127.0.0.1", 8765, "on", 25.0, 40.0)
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")
    assert page_url("0.0.0.0", 8765) == "http://127.0.0.1:8765/" and page_url("::1", 80) == "http://[::1]:80/"


def test_run_serve_warns_off_loopback_and_explains_a_busy_port(tiny_model, monkeypatch, capsys):
    import socket

    import uvicorn

    from privobf.web.server import run_serve

    served = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: served.append(self.config.app))
    assert run_serve(serve_arguments("--host", "0.0.0.0", "--port", "0", "--model", str(tiny_model), "--priors", "off")) == 0
    assert len(served) == 1
    assert "anyone on your network can upload photos" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = str(busy.getsockname()[1])
        assert run_serve(serve_arguments("--port", port, "--model", str(tiny_model), "--priors", "off")) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}: port {port} is already in use; choose another --port" in err
    assert "anyone on your network" not in err


@pytest.mark.parametrize("option, value, expected", [
    ("--port", "99999", "expected a port number from 0 to 65535, got '99999'"),
    ("--port", "-1", "expected a port number from 0 to 65535, got '-1'"),
    ("--max-upload-mb", "inf", "expected a finite number of MB above 0 and at most 2000, got 'inf'"),
    ("--max-upload-mb", "nan", "got 'nan'"),
    ("--max-upload-mb", "0", "got '0'"),
    ("--max-megapixels", "nan", "expected a finite number of megapixels from 0.000256 to 1000, got 'nan'"),
    ("--max-megapixels", "inf", "got 'inf'"),
    ("--max-megapixels", "1e-9", "got '1e-9'"),
])
def test_serve_options_out_of_range_are_usage_errors(option, value, expected, capsys):
    """Issue 16: these gave tracebacks (or, for nan, a message naming no option) instead of a usage error."""
    from privobf.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["serve", option, value])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: " in err and expected in err and "Traceback" not in err


@pytest.mark.parametrize("option, attribute, value", [
    *[(option, attribute, value) for option, attribute in (("--max-upload-mb", "max_upload_mb"),
                                                           ("--max-megapixels", "max_megapixels"))
      for value in (float("nan"), float("inf"), 0.0)],
    ("--port", "port", 99999),
])
def test_build_app_names_the_option_for_arguments_built_by_hand(tiny_model, option, attribute, value, capsys):
    from privobf.web.server import run_serve

    args = serve_arguments("--model", str(tiny_model), "--priors", "off")
    setattr(args, attribute, value)
    assert run_serve(args) == 2
    err = capsys.readouterr().err
    assert f"privobf: error: {option}: expected a " in err and f"got '{value}'" in err and "Traceback" not in err


def test_run_serve_explains_a_host_that_does_not_resolve_or_is_not_here(tiny_model, capsys):
    """Issue 16: an unknown host name was answered "choose another --port"."""
    from privobf.web.server import run_serve

    def serve(*options: str) -> int:
        return run_serve(serve_arguments(*options, "--port", "0", "--model", str(tiny_model), "--priors", "off"))

    assert serve("--host", "no.such.host.invalid") == 2  # .invalid is reserved: it never resolves
    err = capsys.readouterr().err
    assert "cannot listen on no.such.host.invalid: no such host name or address (" in err
    assert "--port" not in err and "anyone on your network" not in err
    assert serve("--host", "192.0.2.1") == 2  # TEST-NET-1: documentation only, never this computer's address
    err = capsys.readouterr().err
    assert "192.0.2.1 is not an address of this computer" in err and "--port" not in err


def test_listen_errors_say_what_to_change():
    import errno
    import socket

    from privobf.web.server import listen_error_message

    unknown = listen_error_message("nowhere.invalid", 8765, socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    assert unknown == "cannot listen on nowhere.invalid: no such host name or address (Name or service not known)"
    busy = listen_error_message("127.0.0.1", 8765, OSError(errno.EADDRINUSE, "Address already in use"))
    assert busy == "cannot listen on 127.0.0.1:8765: port 8765 is already in use; choose another --port"
    foreign = listen_error_message("10.9.8.7", 8765, OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address"))
    assert foreign.startswith("cannot listen on 10.9.8.7:8765: 10.9.8.7 is not an address of this computer")
    privileged = listen_error_message("127.0.0.1", 80, OSError(errno.EACCES, "Permission denied"))
    assert privileged == ("cannot listen on 127.0.0.1:80: ports below 1024 need administrator rights; "
                          "choose another --port")
    refused = listen_error_message("127.0.0.1", 8080, OSError(errno.EACCES, "Permission denied"))
    assert refused == "cannot listen on 127.0.0.1:8080 (Permission denied)"
    assert listen_error_message("::1", 8765, OSError(errno.EADDRINUSE, "in use")).startswith("cannot listen on [::1]:8765:")


def test_bind_socket_resolves_host_names_and_keeps_port_zero():
    from privobf.web.server import bind_socket

    for host in ("localhost", "127.0.0.1"):
        sock = bind_socket(host, 0)
        try:
            assert sock.getsockname()[0] in ("127.0.0.1", "::1") and sock.getsockname()[1] > 0
        finally:
            sock.close()
