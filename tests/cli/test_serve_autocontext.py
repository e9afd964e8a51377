"""`grove serve` on autocontext projects: --autocontext N for a new project, and an imported
ilastik Autocontext .ilp served stage by stage (its stages' forests predict through the API)."""
import json
import re
import struct
import subprocess
import time
import urllib.request
import zipfile

import pytest

from conftest import GROVE, SHARED, run_grove


def test_serve_autocontext_needs_two_or_more_stages():
    assert "--autocontext" in run_grove("serve", "--help").stdout
    proc = run_grove("serve", "--no-browser", "--port", "0", "--autocontext", "1")
    assert proc.returncode == 2
    assert "autocontext" in proc.stderr


def start(arguments):
    proc = subprocess.Popen([GROVE, "serve", "--no-browser", "--port", "0", *arguments],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        match = re.search(r"(http://\S+)/\?token=([0-9a-f]{64})", line)
        if match:
            return proc, match.group(1), match.group(2)
    proc.kill()
    raise AssertionError("grove serve printed no URL:\n" + proc.stderr.read())


def call(base, token, path, body=None):
    request = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": "Bearer " + token,
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.status, response.read()


def test_an_ilastik_autocontext_project_is_served_stage_by_stage(tmp_path):
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: the ilastik test data is not available on this machine")
    with zipfile.ZipFile(SHARED / "ilastik_testdata" / "api_projects.zip") as z:
        z.extractall(tmp_path)
    proc, base, token = start([str(tmp_path / "Autocontext_2D.ilp"), "--root", str(tmp_path)])
    try:
        project = json.loads(call(base, token, "/api/project")[1])
        assert (project["stages"], project["stage"]) == (2, 1)
        assert project["trained"] and len(project["images"]) == 1 and len(project["classes"]) >= 2
        image = project["images"][0]["id"]
        assert call(base, token, "/api/stage", {"stage": 2})[0] == 200
        project = json.loads(call(base, token, "/api/project")[1])
        assert project["stage"] == 2 and project["trained"]
        for stage in (1, 2):
            status, tile = call(base, token, f"/api/tile?image={image}&layer=probabilities&w=32&h=32&stage={stage}")
            assert status == 200 and tile[:4] == b"GRVT"
            channels, width, height = struct.unpack_from("<HII", tile, 6)
            assert (width, height) == (32, 32) and channels == len(project["classes"])
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_saving_an_ilastik_project_writes_a_grove_project_beside_it(tmp_path):
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: the ilastik test data is not available on this machine")
    with zipfile.ZipFile(SHARED / "ilastik_testdata" / "api_projects.zip") as z:
        z.extractall(tmp_path)
    ilp = tmp_path / "Autocontext_2D.ilp"
    before = ilp.read_bytes()
    proc, base, token = start([str(ilp), "--root", str(tmp_path)])
    try:
        project = json.loads(call(base, token, "/api/project")[1])
        assert project["path"].endswith("Autocontext_2D.grove")
        status, body = call(base, token, "/api/save", {})
        assert status == 202
        job = json.loads(body)["job"]
        deadline = time.time() + 60
        state = "running"
        while state == "running" and time.time() < deadline:
            jobs = json.loads(call(base, token, "/api/jobs")[1])["jobs"]
            state = next(j["state"] for j in jobs if j["id"] == job)
            time.sleep(0.2)
        assert state == "succeeded"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert ilp.read_bytes() == before  # the .ilp is never written
    saved = run_grove("info", tmp_path / "Autocontext_2D.grove")
    assert saved.returncode == 0, saved.stderr
