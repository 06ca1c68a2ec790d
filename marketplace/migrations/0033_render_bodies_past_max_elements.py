"""Stored bodies that may nest raw HTML deeper than the sanitiser can take, rendered again.

A body rendered before `rendering.MAX_ELEMENTS` kept its raw HTML however long it was, and its nesting
was counted by a pattern that comments, raw text elements and <div/> could mislead: such a body could
take the sanitiser minutes on each worker's first view. Those holding more than MAX_ELEMENTS '<' (a
superset of those with more elements) are rendered again, skill rows and the content waiting revisions
hold, as a sync now renders them.
"""
from django.db import migrations
from django.db.models import F, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Length, Replace

BATCH = 500


def _angles(expression):
    """How many '<' the text `expression` holds."""
    return Length(expression) - Length(Replace(expression, Value("<"), Value("")))


def render_long_bodies(apps, schema_editor):
    from marketplace.rendering import MAX_ELEMENTS, render

    Skill = apps.get_model("marketplace", "Skill")
    SkillRevision = apps.get_model("marketplace", "SkillRevision")
    skills = (Skill.objects.annotate(angles=_angles(F("body_html"))).filter(angles__gt=MAX_ELEMENTS)
              .only("pk", "body"))
    for skill in skills.iterator(chunk_size=BATCH):
        Skill.objects.filter(pk=skill.pk).update(body_html=render(skill.body))
    revisions = (SkillRevision.objects.annotate(angles=_angles(KT("content__body_html")))
                 .filter(angles__gt=MAX_ELEMENTS)
                 .only("pk", "content"))
    for revision in revisions.iterator(chunk_size=BATCH):
        revision.content["body_html"] = render(revision.content.get("body", ""))
        SkillRevision.objects.filter(pk=revision.pk).update(content=revision.content)


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0032_revisions_waiting_with_refused_names")]

    operations = [migrations.RunPython(render_long_bodies, migrations.RunPython.noop, elidable=True)]
