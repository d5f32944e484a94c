"""The cohort on JupyterHub: real logins, nbgrader's exchange, and the role-play service of record.

roster:    who logs in and in which role (hub/cohort.yaml)
system:    Unix users and groups, the folders and their permissions, the PostgreSQL gradebook
hubconfig: the jupyterhub_config.py and per-role Jupyter settings `shifu hub up` writes
service:   the role-play service the hub runs (the engine and the transcripts of record)
client:    how the chat widget and the mentor's tools talk to that service
up:        bring it all up, check it answers, stop it
"""
