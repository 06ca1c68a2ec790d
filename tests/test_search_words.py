"""The typo path's words (SearchWord): kept current by every write, and never a way to see a hidden skill."""
import json

import pytest

from marketplace.models import SearchWord, Skill
from marketplace.search import search
from marketplace.sync import sync_marketplace

from .builders import catalog, plugin_entry, skill_md

pytestmark = pytest.mark.django_db


@pytest.fixture
def market(make_repo, synced_marketplace):
    """Two skills everyone sees, and `kubernetes-vault`, which only the core team may read."""
    return synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("kit")),
        ".skillport/access.json": json.dumps({"skills": {"kubernetes-vault": {"read": ["github:@acme/core"]}}}),
        "plugins/kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Write a blameless incident review."),
        "plugins/kit/skills/kube-deploy/SKILL.md": skill_md("kube-deploy", "Deploy to kubernete clusters.",
                                                            body="Roll back with helmsman when it fails.\n"),
        "plugins/kit/skills/kubernetes-vault/SKILL.md": skill_md("kubernetes-vault", "Rotate the kubernetes secrets."),
    }), slug="acme")


def words():
    return set(SearchWord.objects.values_list("word", flat=True))


def found(user, text):
    return [(s.name, getattr(s, "respelt", None)) for s in search(Skill.objects.visible_to(user), text)
            .order_by("-score", "name")]


def test_the_words_of_names_and_descriptions_are_there_after_a_sync(market):
    assert {"postmortem", "blameless", "incident", "kube", "deploy", "kubernete", "kubernetes"} <= words()
    assert "kube-deploy" not in words()  # a compound: its parts are there
    assert "helmsman" not in words()  # bodies are searched as written, not corrected against
    market.repo.commit({"plugins/kit/skills/postmortem/SKILL.md": skill_md("postmortem", "A hydrant of lessons.")})
    sync_marketplace(market.pk)
    assert "hydrant" in words()
    Skill.objects.filter(name="postmortem").update(display_name_override="Retrospective")  # as the admin saves it
    assert "retrospective" in words()


def test_a_typo_is_corrected_and_the_search_runs_again(market, people):
    assert found(people["member"], "postmortm") == [("postmortem", "postmortem")]
    assert found(people["member"], "blamless incdent") == [("postmortem", "blameless incident")]
    assert found(people["member"], "postmortem") == [("postmortem", None)]  # as written: nothing respelt
    assert found(people["member"], "the postmortm") == [("postmortem", "the postmortem")]  # a stop word stays
    # A word held as written (here in a body) is kept; only the misspelt one changes.
    assert found(people["member"], "helmsman deplyo") == [("kube-deploy", "helmsman deploy")]


def test_two_letters_swapped_are_corrected_first(market, people):
    # "reveiw" is only 0.27 similar to "review" by trigrams, under pg_trgm's threshold of 0.3.
    assert found(people["member"], "incident reveiw") == [("postmortem", "incident review")]
    # A swap in a word only a hidden skill holds is not offered either: "rotate" is the vault's.
    assert found(people["member"], "rotaet") == []
    assert found(people["core"], "rotaet") == [("kubernetes-vault", "rotate")]


def test_a_word_only_a_hidden_skill_holds_is_never_offered(market, people):
    # "kubernetes" is the closer word, but only the vault holds it: orla gets the word she may see
    # (which the stemmer finds in both skills: the core team sees the vault too).
    assert found(people["member"], "kubernetess") == [("kube-deploy", "kubernete")]
    assert sorted(found(people["core"], "kubernetess")) == [("kube-deploy", "kubernetes"),
                                                             ("kubernetes-vault", "kubernetes")]
    Skill.objects.filter(name="kube-deploy").update(curation="hidden")
    assert found(people["member"], "kubernetess") == []
    assert found(people["outsider"], "postmortm") == []  # sees nothing, is offered nothing
