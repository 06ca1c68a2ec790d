"""Django's database sessions, read with one written-out query (marketplace.rows says why)."""
from django.contrib.sessions.backends import db

from marketplace import rows


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        row = rows.session(self.model, self.session_key)
        if row is None:
            self._session_key = None  # as Django does: a new session gets a new key
            return None
        return self.model(session_key=self.session_key, session_data=row[0], expire_date=row[1])
