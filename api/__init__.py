"""The REST API under /api/v1/: the catalogue, update checks and package links for everyone signed
in, sync runs and publish targets (their runs, managed settings and ZIPs) for admins, and the audit
log for auditors.

What a caller sees is decided by `visible_to` exactly as on the web pages and the connector;
objects are named by slugs, never row ids. The OpenAPI schema (drf-spectacular) is at
/api/schema/ and its documentation page at /api/docs/.
"""
