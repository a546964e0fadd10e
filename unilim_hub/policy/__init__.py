"""The rules of unilim-hub: pure functions and frozen dataclasses.

Nothing in this package does I/O or knows about JupyterHub or Kubernetes clients.
The adapters (spawner, authenticator, course service, CLI) ask it questions and
apply its answers. It never raises for a user's or an admin's situation: it
returns values, and problems as :class:`~unilim_hub.policy.problems.Problem`.
"""
