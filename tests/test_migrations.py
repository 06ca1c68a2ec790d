"""Data migrations, run backwards and forwards on the test database."""
import pytest

from marketplace.models import Skill, SkillRevision
from marketplace.sync import sync_marketplace

from .migrating import there_and_back

BEFORE_BODY_HTML = ("marketplace", "0011_api_identifiers")


@pytest.mark.django_db(transaction=True)
def test_0012_renders_the_stored_bodies_and_the_pending_ones(simple_repo, make_marketplace):
    market = make_marketplace(simple_repo, requires_approval=True)
    sync_marketplace(market.pk)
    alpha = Skill.objects.get(slug="alpha")
    pending = SkillRevision.objects.create(skill=alpha, content_hash="0" * 64, status=SkillRevision.Status.PENDING,
                                           content={"body": "# Newer\n\n```python\nprint(2)\n```\n"})
    there_and_back(BEFORE_BODY_HTML)
    assert "<h1>Title</h1>" in Skill.objects.get(slug="alpha").body_html
    assert "<h1>Newer</h1>" in SkillRevision.objects.get(pk=pending.pk).content["body_html"]
    assert '<span class="nb">print</span>' in SkillRevision.objects.get(pk=pending.pk).content["body_html"]
