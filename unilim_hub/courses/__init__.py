"""The course service: where teachers set up their course's environment, and admins see usage.

A JupyterHub service (tornado with HubOAuth) mounted at ``/services/courses/``: teacher
pages and a REST API that write the course's group properties (``course.*``,
read-modify-write), and the admins' status page. JupyterHub's scopes decide who may edit
which course. It imports the policy core and the settings reader, never the spawner or
the authenticator.
"""
