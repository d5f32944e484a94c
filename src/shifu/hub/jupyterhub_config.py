"""JupyterHub settings for the Shifu cohort; `shifu hub up` runs `jupyterhub -f` on this file.

Everything machine-specific comes from the JSON file named by SHIFU_HUB_SETTINGS (written by
shifu.hub.up): ports, folders, the roster's names by role, the gradebook URL.
"""
import json
import os

c = get_config()  # noqa: F821 (provided by JupyterHub)
S = json.load(open(os.environ["SHIFU_HUB_SETTINGS"], encoding="utf-8"))
state = S["state"]

# -- the hub and its proxy (configurable-http-proxy from npm) -------------------------------------
c.JupyterHub.bind_url = f"http://{S['ip']}:{S['port']}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = S["hub_port"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{S['proxy_api_port']}"
c.ConfigurableHTTPProxy.command = [S["proxy_command"]]
c.JupyterHub.db_url = "sqlite:///" + os.path.join(state, "hub", "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(state, "hub", "cookie_secret")
c.JupyterHub.pid_file = os.path.join(state, "hub", "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True

# -- real logins: the machine's own accounts (PAM), only the roster's users ----------------------
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False  # containers rarely run a session manager
c.Authenticator.allowed_users = set(S["trainees"] + S["mentors"])
c.Authenticator.admin_users = set(S["admins"])
c.JupyterHub.load_groups = {"trainees": {"users": S["trainees"]}, "mentors": {"users": S["mentors"]}}
c.JupyterHub.load_roles = [
    # Every user may talk to the role-play service (what they may do there, the service decides).
    {"name": "user", "scopes": ["self", "access:services!service=roleplay"]},
    {"name": "mentor", "groups": ["mentors"],
     "scopes": ["list:users", "read:users", "read:users:activity", "access:services!service=roleplay"]},
]

# -- each user's JupyterLab, started as that Unix user -----------------------------------------
c.Spawner.cmd = [os.path.join(S["venv_bin"], "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 180  # a busy 2-core machine starts JupyterLab slowly
c.Spawner.start_timeout = 300
# The server token (also the kernels') may reach the role-play service on the user's behalf.
c.Spawner.server_token_scopes = ["access:servers!user", "users:activity!user", "access:services!service=roleplay"]
c.Spawner.env_keep = ["PATH", "PYTHONPATH", "LANG", "LC_ALL", "SHIFU_HOME", "SHIFU_LLM_BASE_URL", "SHIFU_LLM_MODEL"]


def _per_role(spawner):
    """Trainees start in their home with the Assignments panel; mentors in the course with the formgrader."""
    name = spawner.user.name
    role = "mentor" if name in S["mentors"] else "trainee"
    env = spawner.environment
    # Searched before the installation's own settings; ~/.jupyter stays the user's (JupyterLab saves settings there).
    env["JUPYTER_CONFIG_PATH"] = os.path.join(state, "jupyter", role)
    env["SHIFU_ROLEPLAY_URL"] = S["roleplay_url"]
    env["SHIFU_TRAINEE"] = name
    env.update(S["runtime_env"])
    env["PATH"] = S["venv_bin"] + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin")
    if role == "mentor":
        env["SHIFU_GRADEBOOK_URL"] = S["gradebook_url"]
        spawner.notebook_dir = S["course"]
    else:
        spawner.notebook_dir = "~"


c.Spawner.pre_spawn_hook = _per_role

# -- the role-play service: the engine and the transcripts of record ----------------------------
c.JupyterHub.services = [{
    "name": "roleplay",
    "url": f"http://127.0.0.1:{S['service_port']}",
    "command": [S["python"], "-m", "shifu.hub.service"],
    "user": S["service_user"],
    "cwd": S["service_data"],
    "environment": {
        "SHIFU_ROLEPLAY_DATA": S["service_data"],
        "SHIFU_HUB_MENTORS": ",".join(S["mentors"]),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "HOME": S["service_data"],
        **S["runtime_env"],
    },
}]
