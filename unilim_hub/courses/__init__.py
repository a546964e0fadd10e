"""The course service: where teachers set up their course's environment, and admins see usage.

A JupyterHub service (tornado with HubOAuth) mounted at ``/services/courses/``: teacher
pages and a REST API that write the course's group properties (``course.*``,
read-modify-write), and the admins' status page. JupyterHub's scopes decide who may edit
which course. It imports the policy core and the settings reader, never the spawner or
the authenticator.
"""

# Shared by the hub's side (launch.py) and the service's process (app.py), which must not
# import the hub's configuration classes (OAuthenticator, KubeSpawner: seconds to import).
SERVICE_NAME = "courses"
SETTINGS_VARIABLE = "UNILIM_COURSES_SETTINGS"  # unilim-hub's settings, JSON
STATE_VARIABLE = "UNILIM_COURSES_STATE"  # the folder of the service's history
# The address the service listens on, when not its URL's host: in a hub pod the URL names
# the hub's Service (http://hub:10101), which is no address of the pod: listen on 0.0.0.0.
BIND_VARIABLE = "UNILIM_COURSES_BIND"
