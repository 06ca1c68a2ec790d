"""Django's PostgreSQL backend, with a pool that hands out only connections that answer (base.py)."""
