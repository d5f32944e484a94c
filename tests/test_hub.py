"""The cohort on JupyterHub, end to end, with real components on 127.0.0.1.

`shifu hub up`'s machinery brings up PostgreSQL, JupyterHub (PAM logins, configurable-http-proxy from
npm) and the role-play service; two trainees and a mentor log in through the hub's login form; the
mentor releases m01 through the formgrader; the trainees fetch it through the Assignments API, play
the role-play from a kernel in their own server (the chat widget talking to the service) and submit;
the mentor sees the submissions, collects, puts the service's transcripts of record in place, grades
with `shifu grade` and releases feedback, which the trainees fetch.

Needs root (Unix users per trainee), PostgreSQL's server programs and hub/node_modules (npm ci --prefix
hub); it skips, saying which, where one is missing. Every wait polls with a generous limit.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = "late-parcel-wrong-station"
ASSIGNMENT = "m01_logistics"
CONVERSATIONS = yaml.safe_load((ROOT / "tests" / "data" / "conversations" / f"{SCENARIO}.yaml").read_text(encoding="utf-8"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _skip_unless_possible() -> None:
    if os.geteuid() != 0:
        pytest.skip("the hub needs root: it creates a Unix user per trainee")
    for tool in ("useradd", "chpasswd", "runuser"):
        if shutil.which(tool) is None:
            pytest.skip(f"`{tool}` is not installed")
    from shifu.hub import system

    try:
        system.pg_bindir()
    except Exception as exc:
        pytest.skip(str(exc))
    if not system.user_exists("postgres"):
        pytest.skip("no `postgres` system user to run the gradebook server")
    if not (ROOT / "hub" / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        if shutil.which("npm") is None:
            pytest.skip("configurable-http-proxy is not installed and there is no npm (see .ci/hub-deps.sh)")
        done = subprocess.run(["npm", "ci", "--prefix", str(ROOT / "hub"), "--no-audit", "--no-fund"],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-1000:]


# -- without a hub: the roster, the Kubernetes values, the widget's local mode ----------------------
def test_roster_errors_name_file_entry_and_fix(tmp_path: Path) -> None:
    from shifu.content.errors import ShifuError
    from shifu.hub.roster import load_roster

    roster = load_roster(ROOT / "hub" / "cohort.yaml")
    assert roster.trainees and roster.mentors and set(roster.admins) <= set(roster.mentors)
    cases = {
        "users:\n  - {name: Wang Fang, role: trainee}\n  - {name: li, role: mentor}\n": ("users.0.name", "Unix user name"),
        "users:\n  - {name: li, role: teacher}\n": ("role", "trainee"),
        "users:\n  - {name: li, role: mentor}\n  - {name: li, role: trainee}\n": ("users.1.name", "twice"),
        "users:\n  - {name: wang, role: trainee}\n": ("users", "mentor"),
    }
    for text, (field, words) in cases.items():
        p = tmp_path / "cohort.yaml"
        p.write_text(text, encoding="utf-8")
        with pytest.raises(ShifuError) as err:
            load_roster(p)
        message = str(err.value)
        assert "cohort.yaml" in message and field in message and words in message, message


def _one_machine_config(tmp_path: Path):
    """Load src/shifu/hub/jupyterhub_config.py the way JupyterHub does, with settings for a small cohort."""
    from traitlets.config import Config

    settings = {"state": str(tmp_path), "ip": "127.0.0.1", "port": 8000, "hub_port": 8081, "proxy_api_port": 8001,
                "service_port": 8090, "proxy_command": "chp", "trainees": ["t1"], "mentors": ["m1", "a1"], "admins": ["a1"],
                "venv_bin": "/v/bin", "python": "/v/bin/python", "course": "/c", "gradebook_url": "postgresql://x",
                "roleplay_url": "http://127.0.0.1:8000/services/roleplay/", "runtime_env": {}, "service_user": "s",
                "service_data": "/d"}
    (tmp_path / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    cfg = Config()
    old = os.environ.get("SHIFU_HUB_SETTINGS")
    os.environ["SHIFU_HUB_SETTINGS"] = str(tmp_path / "settings.json")
    try:
        source = (ROOT / "src" / "shifu" / "hub" / "jupyterhub_config.py").read_text(encoding="utf-8")
        exec(compile(source, "jupyterhub_config.py", "exec"), {"get_config": lambda: cfg})
    finally:
        if old is None:
            del os.environ["SHIFU_HUB_SETTINGS"]
        else:
            os.environ["SHIFU_HUB_SETTINGS"] = old
    return cfg


def test_one_machine_hub_config(tmp_path: Path) -> None:
    cfg = _one_machine_config(tmp_path)
    assert cfg.JupyterHub.authenticator_class == "pam"
    assert cfg.Authenticator.allowed_users == {"t1", "m1", "a1"} and cfg.Authenticator.admin_users == {"a1"}
    (service,) = cfg.JupyterHub.services
    assert service["name"] == "roleplay" and service["user"] == "s"
    assert "access:services!service=roleplay" in cfg.Spawner.server_token_scopes


def test_kubernetes_values_match_the_one_machine_hub(tmp_path: Path) -> None:
    values = yaml.safe_load((ROOT / "docs" / "hub" / "z2jh-values.yaml").read_text(encoding="utf-8"))
    # The chart's top-level sections (Zero to JupyterHub 4.x); anything else would be ignored or refused by it.
    chart_sections = {"fullnameOverride", "nameOverride", "enabled", "imagePullSecrets", "imagePullSecret", "custom",
                      "hub", "rbac", "proxy", "singleuser", "scheduling", "ingress", "httpRoute", "prePuller", "cull",
                      "debug", "global"}
    assert set(values) <= chart_sections, set(values) - chart_sections
    one = {r["name"]: r for r in _one_machine_config(tmp_path).JupyterHub.load_roles}
    k8s = values["hub"]["loadRoles"]
    for name, role in one.items():
        assert sorted(k8s[name]["scopes"]) == sorted(role["scopes"]), name
        assert k8s[name].get("groups", []) == role.get("groups", []), name
    assert "roleplay" in values["hub"]["services"]
    for name, code in values["hub"]["extraConfig"].items():
        compile(code, name, "exec")  # the chart runs these inside jupyterhub_config.py
    assert values["singleuser"]["networkPolicy"]["enabled"] is True


def test_widget_stays_local_without_a_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHIFU_ROLEPLAY_URL", raising=False)
    from shifu.roleplay.engine import Engine
    from shifu.roleplay.widget import roleplay

    w = roleplay(SCENARIO, transcript_dir=str(tmp_path))
    assert isinstance(w.engine, Engine)
    w.send(CONVERSATIONS["good"][0])
    assert (tmp_path / f"{SCENARIO}.jsonl").exists()


def test_widget_on_a_hub_never_falls_back_to_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the hub's service named but unreachable, the trainee gets a clear error, not an unrecorded local chat."""
    from shifu.content.errors import ShifuError
    from shifu.roleplay.widget import roleplay

    monkeypatch.setenv("SHIFU_ROLEPLAY_URL", f"http://127.0.0.1:{_free_port()}/services/roleplay/")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "x")
    with pytest.raises(ShifuError, match="cannot be reached"):
        roleplay(SCENARIO, transcript_dir=str(tmp_path))
    assert not (tmp_path / f"{SCENARIO}.jsonl").exists()


def test_service_store_keeps_finished_conversations_and_carries_on_unfinished(tmp_path: Path) -> None:
    from shifu.hub.service import Store
    from shifu.roleplay.transcript import mark_recorded_by_service as mark_service

    store = Store(tmp_path, mentors={"m"})
    engine = store.open("t", SCENARIO)
    engine.opening()
    engine.respond(CONVERSATIONS["good"][0], latency_s=1.0)
    # The service restarts: a new store resumes the unfinished conversation, even when asked to restart.
    again = Store(tmp_path, mentors={"m"}).open("t", SCENARIO, restart=True)
    assert again.history == engine.history and not again.state.ended
    for reply in CONVERSATIONS["good"][1:]:
        again.respond(reply, latency_s=1.0)
    again.finish()
    store2 = Store(tmp_path, mentors={"m"})
    store2.live[("t", SCENARIO)] = again
    assert store2.open("t", SCENARIO) is again  # without restart: the finished one, as it ended
    fresh = store2.open("t", SCENARIO, restart=True)
    assert fresh is not again and not fresh.history
    assert (tmp_path / "t" / f"{SCENARIO}.1.jsonl").exists()
    first = json.loads(mark_service((tmp_path / "t" / f"{SCENARIO}.1.jsonl").read_text(encoding="utf-8")).splitlines()[0])
    assert first["recorded_by"] == "service" and first["trainee"] == "t"


def test_hub_without_root_or_proxy_says_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from shifu.content.errors import ShifuError
    from shifu.hub import system, up

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(ShifuError, match="needs root.*sudo make hub"):
        system.require_root()
    monkeypatch.setattr(up.paths, "project_root", lambda: tmp_path)
    monkeypatch.setattr(up.shutil, "which", lambda name: None)
    with pytest.raises(ShifuError, match="npm ci --prefix hub"):
        up.proxy_command()


class Visitor:
    """One person in a browser-like session: logs in through the hub's form, then holds an API token."""

    def __init__(self, base: str, name: str, password: str):
        import requests

        self.base, self.name = base, name
        self.http = requests.Session()
        self.login(password)
        xsrf = self.http.cookies.get("_xsrf", domain=None) or ""
        made = self.http.post(f"{base}/hub/api/users/{name}/tokens", headers={"X-XSRFToken": xsrf},
                              json={"note": "test", "expires_in": 3600,
                                    "scopes": [f"access:servers!user={name}", f"servers!user={name}",
                                               f"read:users!user={name}", "access:services!service=roleplay"]})
        assert made.status_code in (200, 201), made.text
        self.token = made.json()["token"]
        self.auth = {"Authorization": f"token {self.token}"}

    def login(self, password: str) -> None:
        page = self.http.get(f"{self.base}/hub/login", timeout=60)
        assert page.status_code == 200
        xsrf = self.http.cookies.get("_xsrf") or ""
        # allow_redirects=False: the redirect would start the server; the test starts it explicitly.
        resp = self.http.post(f"{self.base}/hub/login?next=", data={"username": self.name, "password": password, "_xsrf": xsrf},
                              allow_redirects=False, timeout=120)
        assert resp.status_code == 302, f"login of {self.name} refused: {resp.status_code} {resp.text[:300]}"
        assert self.http.cookies.get("jupyterhub-hub-login"), "the hub set no login cookie"

    def wrong_login_refused(self) -> bool:
        import requests

        s = requests.Session()
        s.get(f"{self.base}/hub/login", timeout=60)
        r = s.post(f"{self.base}/hub/login", data={"username": self.name, "password": "not-the-password",
                                                   "_xsrf": s.cookies.get("_xsrf") or ""}, allow_redirects=False, timeout=120)
        return r.status_code != 302

    def start_server(self, timeout: float = 400) -> None:
        r = self.http.post(f"{self.base}/hub/api/users/{self.name}/server", headers=self.auth, timeout=120)
        assert r.status_code in (201, 202, 400), r.text  # 400: already running
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.http.get(f"{self.base}/hub/api/users/{self.name}", headers=self.auth, timeout=60).json()
            server = (model.get("servers") or {}).get("")
            if server and server.get("ready"):
                return
            time.sleep(2)
        raise AssertionError(f"{self.name}'s server did not become ready in {timeout} s")

    def get(self, path: str, **kw):
        return self.http.get(f"{self.base}/user/{self.name}/{path}", headers=self.auth, timeout=300, **kw)

    def post(self, path: str, **kw):
        return self.http.post(f"{self.base}/user/{self.name}/{path}", headers=self.auth, timeout=600, **kw)

    def service(self, method: str, path: str, **kw):
        return self.http.request(method, f"{self.base}/services/roleplay/{path}", headers=self.auth, timeout=120, **kw)

    def run(self, code: str, timeout: float = 900) -> str:
        """Execute code in a fresh kernel of this user's own server; return its printed output."""
        r = self.post("api/kernels", json={"name": "python3"})
        assert r.status_code == 201, r.text
        kid = r.json()["id"]
        try:
            return asyncio.run(_execute(self.base.replace("http", "ws", 1) + f"/user/{self.name}/api/kernels/{kid}/channels",
                                        self.auth, code, timeout))
        finally:
            self.http.delete(f"{self.base}/user/{self.name}/api/kernels/{kid}", headers=self.auth, timeout=60)


async def _execute(url: str, headers: dict[str, str], code: str, timeout: float) -> str:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    conn = await websocket_connect(HTTPRequest(url, headers=headers, request_timeout=120, connect_timeout=120))
    msg_id = uuid.uuid4().hex
    conn.write_message(json.dumps({
        "header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex, "msg_type": "execute_request",
                   "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True}}))
    out: list[str] = []
    replied = idle = False
    deadline = time.monotonic() + timeout
    # the reply (shell channel) can overtake the printed output (iopub): done when both the reply and the
    # kernel's "idle" for this request (which follows all its output) have arrived
    while not (replied and idle):
        raw = await asyncio.wait_for(conn.read_message(), timeout=max(1.0, deadline - time.monotonic()))
        assert raw is not None, "the kernel's websocket closed"
        msg = json.loads(raw)
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "stream":
            out.append(msg["content"]["text"])
        elif kind == "error":
            raise AssertionError("kernel error: " + "\n".join(msg["content"]["traceback"])[-3000:] + "\n" + "".join(out))
        elif kind == "execute_reply":
            replied = True
        elif kind == "status" and msg["content"].get("execution_state") == "idle":
            idle = True
    conn.close()
    return "".join(out)


def _result(output: str) -> dict:
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    assert lines, f"no RESULT line in the kernel's output:\n{output[-3000:]}"
    return json.loads(lines[-1][len("RESULT "):])


@pytest.fixture(scope="module")
def hub():
    _skip_unless_possible()
    from shifu.hub import system
    from shifu.hub.up import HubSettings, make_hub

    tag = f"{os.getpid() % 100000}"
    names = {"a": f"sfta{tag}", "b": f"sftb{tag}", "m": f"sftm{tag}"}
    state = Path(tempfile.mkdtemp(prefix="shifu-hub-"))  # under /tmp: every user must reach the exchange
    os.chmod(state, 0o755)
    roster = state / "cohort.yaml"
    roster.write_text(yaml.safe_dump({"users": [{"name": names["a"], "role": "trainee"}, {"name": names["b"], "role": "trainee"},
                                                {"name": names["m"], "role": "mentor"}]}), encoding="utf-8")
    settings = HubSettings(state=state / "srv", port=_free_port(), hub_port=_free_port(), proxy_api_port=_free_port(),
                           service_port=_free_port(), pg_port=_free_port(), roster_path=roster, assignments=[ASSIGNMENT])
    h = make_hub(settings)
    system.remove_users(list(names.values()))  # left over by a run that was killed: start with known passwords
    t0 = time.perf_counter()
    try:
        h.prepare()
        # Test-only: the browser test reaches JupyterLab's application object, as tests/test_engine_browser.py does.
        (settings.state / "jupyter" / "trainee" / "jupyter_server_config.json").write_text(json.dumps(
            {**json.loads((settings.state / "jupyter" / "trainee" / "jupyter_server_config.json").read_text()),
             "LabApp": {"expose_app_in_browser": True}}), encoding="utf-8")
        url = h.start()
        print(f"hub up in {time.perf_counter() - t0:.0f} s: {h.timings}")
        yield h, url, names
    finally:
        h.stop()
        system.remove_users(list(names.values()))
        if os.environ.get("SHIFU_KEEP_HUB_STATE"):  # for debugging: the hub's log and state stay
            print(f"hub state kept in {state}")
        else:
            shutil.rmtree(state, ignore_errors=True)


def test_cohort_end_to_end(hub) -> None:
    h, url, names = hub
    pw = h.new_passwords
    a, b, m = (Visitor(url, names[k], pw[names[k]]) for k in ("a", "b", "m"))
    assert a.wrong_login_refused(), "a wrong password must not log in"
    for v in (m, a, b):
        v.start_server()

    # -- the mentor releases m01 through the formgrader ------------------------------------------
    r = m.post(f"formgrader/api/assignment/{ASSIGNMENT}/release")
    assert r.status_code == 200 and r.json().get("success"), r.text
    # A trainee has no formgrader, and cannot read the course (solutions, hidden tests, reference transcripts).
    assert a.get("formgrader/api/assignments").status_code == 404

    # -- trainees fetch it in the Assignments panel's API ------------------------------------------
    for v in (a, b):
        listed = v.get("assignments", params={"course_id": "shifu"}).json()
        assert any(x["assignment_id"] == ASSIGNMENT and x["status"] == "released" for x in listed["value"]), listed
        r = v.post("assignments/fetch", data={"course_id": "shifu", "assignment_id": ASSIGNMENT})
        assert r.status_code == 200 and r.json().get("success"), r.text

    # -- they play the role-play from a kernel in their own server: the widget talks to the service --
    play = """
import json, os
os.chdir(os.path.expanduser("~/{a}"))
from shifu.roleplay.widget import roleplay
w = roleplay("{s}")
for reply in {replies!r}:
    if w.send(reply) is None:
        break
w.finish()
print("RESULT " + json.dumps({{"outcome": w.engine.state.outcome, "remote": type(w.engine).__name__,
                               "status": w.status.value, "local": os.path.exists("{s}.jsonl")}}))
"""
    good = _result(a.run(play.format(a=ASSIGNMENT, s=SCENARIO, replies=CONVERSATIONS["good"])))
    assert good == {"outcome": "resolved", "remote": "RemoteEngine", "status": "", "local": False}, good
    bad = _result(b.run(play.format(a=ASSIGNMENT, s=SCENARIO, replies=CONVERSATIONS["bad"])))
    assert bad["outcome"] == "escalated" and bad["remote"] == "RemoteEngine", bad
    # B forges a transcript of a good conversation beside the notebook (played locally, with slow-free times).
    forge = """
import os
os.chdir(os.path.expanduser("~/{a}"))
from shifu.roleplay.engine import Engine
e = Engine("{s}", transcript_path="{s}.jsonl", trainee=os.environ["SHIFU_TRAINEE"])
e.opening()
for reply in {replies!r}:
    if e.state.ended:
        break
    e.respond(reply, latency_s=3.0)
e.finish()
print("RESULT " + '"' + e.state.outcome + '"')
"""
    assert _result(b.run(forge.format(a=ASSIGNMENT, s=SCENARIO, replies=CONVERSATIONS["good"]))) == "resolved"

    # -- isolation: files, the course, the service's records ---------------------------------------
    probe = """
import json, os
def tries(fn):
    try:
        fn(); return "allowed"
    except PermissionError:
        return "denied"
home_b = os.path.expanduser("~{b}")
print("RESULT " + json.dumps({{
    "home_b": tries(lambda: os.listdir(home_b)),
    "notebook_b": tries(lambda: open(os.path.join(home_b, "{a}", "{a}.ipynb")).read()),
    "course": tries(lambda: os.listdir({course!r})),
    "service_data": tries(lambda: os.listdir({data!r})),
    "gradebook_socket": tries(lambda: os.listdir({pg!r})),
}}))
"""
    seen = _result(a.run(probe.format(b=names["b"], a=ASSIGNMENT, course=str(h.course),
                                      data=str(h.settings.state / "roleplay"), pg=str(h.settings.state / "pg" / "run"))))
    assert set(seen.values()) == {"denied"}, seen
    assert a.service("GET", f"api/transcripts/{names['b']}").status_code == 403
    assert a.service("GET", f"api/transcripts/{names['b']}/{SCENARIO}.jsonl").status_code == 403
    own = a.service("GET", f"api/transcripts/{names['a']}/{SCENARIO}.jsonl")
    assert own.status_code == 200 and '"recorded_by": "service"' in own.text.splitlines()[0]
    for method in ("PUT", "DELETE", "PATCH", "POST"):
        tampered = a.service(method, f"api/transcripts/{names['a']}/{SCENARIO}.jsonl", data=b"{}")
        assert tampered.status_code in (404, 405), (method, tampered.status_code)
    # Replying again to an ended conversation cannot rewrite its outcome either.
    assert a.service("POST", f"api/sessions/{SCENARIO}/reply", json={"text": "好的"}).status_code == 409
    assert a.service("GET", f"api/transcripts/{names['a']}/{SCENARIO}.jsonl").text == own.text
    assert m.service("GET", f"api/transcripts/{names['b']}/{SCENARIO}.jsonl").status_code == 200

    # -- trainees submit; the mentor sees who submitted, collects, grades, releases feedback --------
    for v in (a, b):
        r = v.post("assignments/submit", data={"course_id": "shifu", "assignment_id": ASSIGNMENT})
        assert r.status_code == 200 and r.json().get("success"), r.text
    mentor = """
import json, os, subprocess
def sh(*cmd):
    done = subprocess.run(list(cmd), capture_output=True, text=True, cwd={course!r})
    return {{"rc": done.returncode, "out": done.stdout[-4000:], "err": done.stderr[-4000:]}}
inbound = sh("nbgrader", "list", "--inbound")
print("RESULT " + json.dumps({{"inbound": inbound}}))
"""
    inbound = _result(m.run(mentor.format(course=str(h.course))))["inbound"]
    assert names["a"] in inbound["out"] + inbound["err"] and names["b"] in inbound["out"] + inbound["err"], inbound
    r = m.post(f"formgrader/api/assignment/{ASSIGNMENT}/collect")
    assert r.status_code == 200 and r.json().get("success"), r.text
    grade = """
import json, os, subprocess
def sh(*cmd):
    done = subprocess.run(list(cmd), capture_output=True, text=True, cwd={course!r})
    return {{"rc": done.returncode, "out": done.stdout[-4000:], "err": done.stderr[-4000:]}}
fetched = sh("shifu", "hub", "transcripts", "--assignment", "{a}")
graded = sh("shifu", "grade", "--course", {course!r}, "-a", "{a}", "--no-progress", "--json")
report = sh("shifu", "progress", "--course", {course!r}, "--db", os.environ["SHIFU_GRADEBOOK_URL"], "--out", "reports")
report["files"] = sorted(os.listdir(os.path.join({course!r}, "reports"))) if report["rc"] == 0 else []
from nbgrader.api import Gradebook
scores = {{}}
with Gradebook(os.environ["SHIFU_GRADEBOOK_URL"]) as gb:
    for who in {who!r}:
        try:
            sub = gb.find_submission("{a}", who)
        except Exception as exc:  # reported with `shifu grade`'s own output below
            scores[who] = {{"missing": repr(exc)}}
            continue
        scores[who] = {{g.name: g.score for nb in sub.notebooks for g in nb.grades}}
print("RESULT " + json.dumps({{"fetched": fetched, "graded": graded, "report": report, "scores": scores}}))
"""
    out = _result(m.run(grade.format(course=str(h.course), a=ASSIGNMENT, who=[names["a"], names["b"]])))
    assert out["fetched"]["rc"] == 0 and "2 transcripts" in out["fetched"]["out"], out["fetched"]
    assert out["graded"]["rc"] == 0, out["graded"]
    assert all("missing" not in v for v in out["scores"].values()), (out["scores"], out["graded"])
    assert out["report"]["rc"] == 0 and any(f.endswith(".html") for f in out["report"]["files"]), out["report"]

    # The scores are the service's transcripts' scores, whatever a trainee handed in — as the grader
    # itself scores a transcript file (its own scoring where it has one, else the notebook helper).
    # The service's copy is the transcript of record: its reply times count (响应时效 is scored).
    from shifu.grading.scoring import transcript_cell

    def transcript_points(path: str, scenario: str, points: float, criterion: str) -> float:
        return transcript_cell(path, scenario, points, criterion, with_times=True).points

    def expected(text: str) -> dict[str, float]:
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as fh:
            fh.write(text)
        try:
            cells = {k: v for k, v in out["scores"][names["a"]].items() if k.startswith("roleplay_1__")}
            return {k: transcript_points(fh.name, SCENARIO, _max_points(h.course, k), criterion=k.split("__")[1]) for k in cells}
        finally:
            os.unlink(fh.name)

    for who in ("a", "b"):
        record = m.service("GET", f"api/transcripts/{names[who]}/{SCENARIO}.jsonl").text
        want = expected(record)
        got = {k: v for k, v in out["scores"][names[who]].items() if k in want}
        assert got == pytest.approx(want), (who, got, want)
    a_play = sum(v for k, v in out["scores"][names["a"]].items() if k.startswith("roleplay_1__"))
    b_play = sum(v for k, v in out["scores"][names["b"]].items() if k.startswith("roleplay_1__"))
    assert a_play > b_play, (a_play, b_play)
    for who in ("a", "b"):
        of_record = Path(h.course) / "transcripts-of-record" / names[who] / ASSIGNMENT / f"{SCENARIO}.jsonl"
        assert of_record.read_text(encoding="utf-8") == m.service("GET", f"api/transcripts/{names[who]}/{SCENARIO}.jsonl").text
    forged = Path(h.course) / "submitted" / names["b"] / ASSIGNMENT / f"{SCENARIO}.jsonl.handed-in"
    assert forged.exists()
    assert sum(expected(forged.read_text(encoding="utf-8")).values()) > b_play, "the forged transcript would have scored higher"

    r = m.post(f"formgrader/api/assignment/{ASSIGNMENT}/release_feedback")
    assert r.status_code == 200 and r.json().get("success"), r.text
    for v in (a, b):
        r = v.post("assignments/fetch_feedback", data={"course_id": "shifu", "assignment_id": ASSIGNMENT})
        assert r.status_code == 200 and r.json().get("success"), r.text
        listing = v.get(f"api/contents/{ASSIGNMENT}/feedback").json()
        stamps = [x["path"] for x in listing["content"]]
        assert stamps, listing
        html = v.get(f"api/contents/{stamps[0]}").json()["content"]
        assert any(x["name"].endswith(".html") for x in html), html


def _max_points(course: Path, grade_id: str) -> float:
    nb = json.loads((course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade_id") == grade_id:
            return float(meta["points"])
    raise KeyError(grade_id)


BROWSER_SCENARIO = "apparel-size"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.mark.browser
@pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)), reason="chromium is not installed")
def test_browser_trainee_chats_through_the_service(hub) -> None:
    """A trainee logs in on the hub's page, opens a notebook in JupyterLab, sends a reply in the chat
    widget and sees the buyer answer; the turn is in the service's transcript, not beside the notebook."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    h, url, names = hub
    name, password = names["a"], h.new_passwords[names["a"]]
    api = Visitor(url, name, password)
    api.start_server()
    reply = yaml.safe_load((ROOT / "tests" / "data" / "conversations" / f"{BROWSER_SCENARIO}.yaml").read_text(encoding="utf-8"))["good"][0]
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                     "source": f"from shifu.roleplay.widget import roleplay\nroleplay({BROWSER_SCENARIO!r})"}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    r = api.http.put(f"{url}/user/{name}/api/contents/chat.ipynb", headers=api.auth,
                     json={"type": "notebook", "content": nb}, timeout=120)
    assert r.status_code in (200, 201), r.text

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                 "--disable-dev-shm-usage"):
        opts.add_argument(flag)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        wait = WebDriverWait(browser, 240, poll_frequency=0.5)
        browser.get(f"{url}/hub/login")
        wait.until(EC.presence_of_element_located((By.ID, "username_input"))).send_keys(name)
        browser.find_element(By.ID, "password_input").send_keys(password)
        browser.find_element(By.ID, "login_submit").click()
        wait.until(lambda d: f"/user/{name}/lab" in d.current_url)
        browser.get(f"{url}/user/{name}/lab/tree/chat.ipynb")
        wait.until(lambda d: d.execute_script(
            "const a = window.jupyterapp; if (!a) return false;"
            "const w = a.shell.currentWidget; return !!(w && w.sessionContext && w.sessionContext.session"
            " && w.sessionContext.session.kernel && w.sessionContext.session.kernel.connectionStatus === 'connected');"))
        browser.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells');")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".shifu-row.buyer")))
        box = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".shifu-input textarea")))
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].focus();", box)
        box.send_keys(reply)
        send = next(b for b in browser.find_elements(By.CSS_SELECTOR, "button.jupyter-button") if "发送" in b.text)
        browser.execute_script("arguments[0].click();", send)

        from browser_lab import buyer_answered

        wait.until(buyer_answered)
    finally:
        browser.quit()
    record = api.service("GET", f"api/transcripts/{name}/{BROWSER_SCENARIO}.jsonl")
    assert record.status_code == 200, record.text
    lines = [json.loads(x) for x in record.text.splitlines() if x.strip()]
    assert lines[0]["recorded_by"] == "service" and lines[0]["trainee"] == name
    trainee_turns = [x for x in lines if x.get("role") == "trainee"]
    assert [x["text"] for x in trainee_turns] == [reply.strip()]
    assert trainee_turns[0]["latency_s"] is not None  # measured by the service
    listing = api.get("api/contents").json()["content"]
    assert not any(x["name"] == f"{BROWSER_SCENARIO}.jsonl" for x in listing), "the widget wrote a local transcript on the hub"
