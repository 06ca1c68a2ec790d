"""Django's database sessions, read with one written-out query (marketplace.rows says why)."""
from django.contrib.sessions.backends import db
from django.db import connection
from django.utils import timezone


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT session_data, expire_date FROM {quote(self.model._meta.db_table)} "
                "WHERE session_key = %s AND expire_date > %s",
                [self.session_key, timezone.now()],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None  # as Django does: a new session gets a new key
            return None
        return self.model(session_key=self.session_key, session_data=row[0], expire_date=row[1])
