"""API tokens issued and revoked by an administrator: the aup_token command and the admin."""

import io
import re

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from tests.factories import make_token, make_user
from tracking.models import ApiToken

pytestmark = pytest.mark.django_db


def aup_token(*args):
    out = io.StringIO()
    call_command("aup_token", *args, stdout=out)
    return out.getvalue()


def works(secret):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client.get("/api/resources/types/").status_code == 200


def test_it_issues_a_token_and_prints_its_secret_once(user):
    output = aup_token("create", "--user", "alice", "--name", "gpu box")

    token = ApiToken.objects.get()
    secret = re.search(r"^(aup_\S+)$", output, re.MULTILINE).group(1)
    assert (token.user, token.name) == (user, "gpu box")
    assert works(secret)
    assert secret not in aup_token("list")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--user", "nobody", "--name", "x"], "no user 'nobody'"),
        (["--user", "alice", "--name", " "], "--name must be 1 to 100 characters"),
        (["--user", "alice", "--name", "x" * 101], "--name must be 1 to 100 characters"),
    ],
)
def test_it_refuses_to_issue_a_token_with_bad_arguments(user, args, message):
    with pytest.raises(CommandError, match=message):
        aup_token("create", *args)
    assert not ApiToken.objects.exists()


def test_it_refuses_a_token_for_an_inactive_user():
    make_user("gone", is_active=False)
    with pytest.raises(CommandError, match="inactive"):
        aup_token("create", "--user", "gone", "--name", "x")


def test_it_lists_tokens_without_secrets(user, other_user):
    mine, _ = make_token(user, "laptop")
    theirs, _ = make_token(other_user, "cluster")
    theirs.revoke()

    lines = aup_token("list").splitlines()

    assert lines[0].split() == ["id", "user", "name", "secret", "created", "last", "used", "state"]
    assert [line.split()[:3] for line in lines[1:]] == [
        [str(mine.pk), "alice", "laptop"],
        [str(theirs.pk), "bob", "cluster"],
    ]
    assert "never" in lines[1] and lines[1].endswith("active")
    assert "revoked" in lines[2]
    assert [line.split()[1] for line in aup_token("list", "--user", "bob").splitlines()[1:]] == ["bob"]


def test_it_revokes_tokens_by_id(user):
    token, secret = make_token(user)

    assert aup_token("revoke", str(token.pk)) == f"revoked token {token.pk} “laptop”\n"
    assert not works(secret)
    assert aup_token("revoke", str(token.pk)) == f"token {token.pk} was already revoked\n"


def test_it_revokes_nothing_when_an_id_is_unknown(user):
    token, secret = make_token(user)

    with pytest.raises(CommandError, match="no token with id 999"):
        aup_token("revoke", str(token.pk), "999")
    assert works(secret)


def test_it_issues_a_token_from_the_admin_and_shows_the_secret_once(user, client):
    admin_user = make_user("admin", is_staff=True, is_superuser=True)
    client.force_login(admin_user)

    response = client.post("/admin/tracking/apitoken/add/", {"user": user.pk, "name": "from admin"}, follow=True)

    assert response.status_code == 200
    [message] = [str(message) for message in response.context["messages"] if "shown this once" in str(message)]
    secret = re.search(r"shown this once: (aup_\S+)", message).group(1)
    token = ApiToken.objects.get()
    assert (token.user, token.name) == (user, "from admin")
    assert works(secret)
    assert secret not in client.get(f"/admin/tracking/apitoken/{token.pk}/change/").content.decode()


def test_it_revokes_tokens_from_the_admin(user, client):
    client.force_login(make_user("admin", is_staff=True, is_superuser=True))
    token, secret = make_token(user)

    client.post("/admin/tracking/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})

    token.refresh_from_db()
    assert token.revoked is not None
    assert not works(secret)
