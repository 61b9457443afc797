"""Deterministic builders for test data, written straight through the ORM."""

from django.contrib.auth import get_user_model

from tracking.models import ApiToken, Resource


def make_user(username="alice", **fields):
    user, _ = get_user_model().objects.get_or_create(username=username, defaults=fields)
    return user


def make_resource(type="cpu", name="localhost", **fields):
    return Resource.objects.create(type=type, name=name, **fields)


def make_resources(count, type="cpu", name="localhost"):
    return [make_resource(type=type, name=name) for _ in range(count)]


def make_token(user, name="laptop"):
    """An API token of `user`; returns (token, secret)."""
    return ApiToken.issue(user, name)
