"""Secrets never reach a row or a log line in the clear: a marketplace's access token and webhook secret, a publish
target's credential and API key (each set as an admin sets them, in the admin), an OAuth access token, a
personal catalogue token and a one-time install link. After each has been set and used, every text and JSON column of
every table is searched for each of them, and so is every log record written meanwhile."""
import logging

import pytest
from django.db import connection

from connector.models import InstallLink
from connector.tokens import CATALOGUE_CLIENT_NAME, CATALOGUE_SCOPE, catalogue_resource, issue
from marketplace.models import Skill
from marketplace.sync import sync_marketplace
from publishing.models import PublishTarget

from .html_forms import posted_back

pytestmark = pytest.mark.django_db

SECRETS = {
    "access token": "ghp_accesstoken5ecret0000000000000000001",
    "webhook secret": "whsec-webhook5ecret-0000000000000000002",
    "credential": "ghp_credential5ecret000000000000000000003",
    "API key": "sk-ant-apikey5ecret-00000000000000000004",
}


def rows_holding(values) -> list:
    """(table, column) of every text or JSON column of the database holding any of `values`."""
    patterns = [f"%{value}%" for value in values]
    with connection.cursor() as cursor:
        cursor.execute("""SELECT table_name, column_name FROM information_schema.columns
                          WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'json', 'jsonb')
                          ORDER BY table_name, column_name""")
        columns = cursor.fetchall()
        found = []
        for table, column in columns:
            cursor.execute(f'SELECT 1 FROM "{table}" WHERE "{column}"::text LIKE ANY(%s) LIMIT 1', [patterns])
            if cursor.fetchone():
                found.append((table, column))
    return found, len(columns)


def test_no_secret_is_kept_or_logged_in_the_clear(client, people, simple_repo, make_marketplace, caplog):
    caplog.set_level(logging.DEBUG)
    client.force_login(people["admin"])
    market = make_marketplace(simple_repo, slug="acme")
    answer = posted_back(client, f"/admin/marketplace/marketplace/{market.pk}/change/",
                         access_token=SECRETS["access token"], webhook_secret=SECRETS["webhook secret"])
    assert answer.status_code == 302
    sync_marketplace(market.pk)
    answer = posted_back(client, "/admin/publishing/publishtarget/add/", name="org", kind="git",
                         marketplace_name="acme-org", repository_url="https://github.com/acme/published.git",
                         credential=SECRETS["credential"], api_key=SECRETS["API key"], marketplaces=[str(market.pk)])
    assert answer.status_code == 302, answer.content.decode()[:2000]
    target = PublishTarget.objects.get(name="org")
    assert (target.credential, target.api_key) == (SECRETS["credential"], SECRETS["API key"])  # kept, and readable
    market.refresh_from_db()
    assert (market.access_token, market.webhook_secret) == (SECRETS["access token"], SECRETS["webhook secret"])

    member = people["member"]
    tokens = {
        "OAuth access token": issue(member, scope="skills:read")[1],
        "catalogue token": issue(member, scope=CATALOGUE_SCOPE, ttl=3600, resource=[catalogue_resource()],
                                 client_name=CATALOGUE_CLIENT_NAME)[1],
        "install link": InstallLink.issue(member, Skill.objects.get(name="alpha"), surface="api")[1],
    }
    client.force_login(member)
    assert client.get("/api/v1/whoami/", HTTP_AUTHORIZATION=f"Bearer {tokens['OAuth access token']}").status_code == 200
    assert client.get("/m/acme/marketplace.json",
                      HTTP_AUTHORIZATION=f"Bearer {tokens['catalogue token']}").status_code == 200
    assert client.get(f"/install/{tokens['install link']}/").status_code == 200

    kept = {**SECRETS, **tokens}
    found, searched = rows_holding(kept.values())
    assert searched > 200 and found == []
    assert [name for name, value in kept.items() if value in caplog.text] == []
    assert rows_holding([simple_repo.url])[0]  # the search finds what is there


def test_a_staff_member_who_may_only_view_reads_whether_a_secret_is_stored_never_the_secret(client, simple_repo,
                                                                                            make_marketplace):
    """Django shows a read-only page's fields as they are stored: the write-only secrets were shown in the clear."""
    from django.contrib.auth.models import Permission, User

    market = make_marketplace(simple_repo, slug="acme", access_token=SECRETS["access token"])
    target = PublishTarget.objects.create(name="org", kind="git", marketplace_name="acme-org",
                                          credential=SECRETS["credential"], api_key=SECRETS["API key"])
    viewer = User.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client.force_login(viewer)
    for page in (f"/admin/marketplace/marketplace/{market.pk}/change/", f"/admin/publishing/publishtarget/{target.pk}/change/"):
        shown = client.get(page).content.decode()
        assert [name for name, value in SECRETS.items() if value in shown] == [], page
        assert "Stored (never shown)" in shown  # the row is there, saying a secret is stored
