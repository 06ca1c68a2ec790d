"""Django's PostgreSQL backend, whose pool replaces dropped connections before a request uses one.

When PostgreSQL restarts, fails over, or an administrator terminates backends, every connection
idle in the pool is dead, and each would cost the request that takes it a 500. psycopg_pool can
check connections as it hands them out (Django turns that on with CONN_HEALTH_CHECKS), but after
the second dead one it backs off as if the server were down: 1 s, 2 s, 4 s... so requests waited
out the pool's timeout and failed anyway. Here:

1. Each connection taken from the pool is checked with an empty query (one round trip).
2. A dead one is handed back (the pool replaces it) and the pool is drained: the others it holds
   are as old, so they are closed and replaced at once, in the background.
3. The request takes the next connection, which is new; the pool's timeout still bounds the wait
   when PostgreSQL itself is down.
"""
import logging

from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

# A dead connection drains the pool, so the next one is new: a second failure in a row means
# PostgreSQL refuses new connections too, and the error is the request's.
ATTEMPTS = 3


# A statement starting with this is planned for its parameters each time too (rows.planning_each_time).
PLANNED_EACH_TIME = "/* planned each time */ "


class SearchCursor(base.ServerBindingCursor):
    """Django's cursor for server-side binding, except that full-text searches (`@@`) are never
    prepared statements.

    psycopg prepares a statement a connection has run five times (settings.py), and after five
    runs of it PostgreSQL may keep one generic plan, made without the parameters' values. For a
    search that plan does not know what the words match nor who the audience arrays admit, and it
    estimated one visible plugin: it walked every skill plugin by plugin, testing `@@` on each
    search vector, 55-118 ms where the plan for the words takes 2-8 ms (bench/README.md, issue 21).
    Which plan PostgreSQL keeps depends on the tables' statistics, so any catalogue may get it.
    Planning a search each time costs well under a millisecond. So are statements marked
    PLANNED_EACH_TIME, whose generic plans fail alike.
    """

    def execute(self, query, params=None, *, prepare=None, binary=None):
        if prepare is None and isinstance(query, str) and (" @@ " in query or query.startswith(PLANNED_EACH_TIME)):
            prepare = False
        return super().execute(query, params, prepare=prepare, binary=binary)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        if params.get("cursor_factory") is base.ServerBindingCursor:
            params["cursor_factory"] = SearchCursor
        return params

    def get_new_connection(self, conn_params):
        if not self.pool:
            return super().get_new_connection(conn_params)
        for attempt in range(1, ATTEMPTS + 1):
            connection = super().get_new_connection(conn_params)
            try:
                ConnectionPool.check_connection(connection)
            except self.Database.Error as error:
                self.pool.putconn(connection)
                if attempt == ATTEMPTS:
                    raise
                log.warning("A pooled database connection was dead (%s); replacing the pool's connections.", error)
                self.pool.drain()
            else:
                return connection
