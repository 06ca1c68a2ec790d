"""Django's database sessions, read with one written-out query (marketplace.rows says why)."""
from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS

from marketplace import rows


class SessionStore(db.SessionStore):
    def _validate_session_key(self, key):
        # Only a key of the characters Django makes keys of: a cookie may hold any, a NUL too, which PostgreSQL
        # refuses in a query (a 500 on every page). A key refused here is no session, as an unknown one is.
        return super()._validate_session_key(key) and not set(key) - set(VALID_KEY_CHARS)

    def _get_session_from_db(self):
        row = rows.session(self.model, self.session_key)
        if row is None:
            self._session_key = None  # as Django does: a new session gets a new key
            return None
        return self.model(session_key=self.session_key, session_data=row[0], expire_date=row[1])
