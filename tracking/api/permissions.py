"""Who may do what beyond "signed in" (which every endpoint requires)."""

from rest_framework import permissions
from rest_framework.authentication import SessionAuthentication


class SignedInWithPassword(permissions.BasePermission):
    """Only a session (a person who signed in with a password) manages tokens.

    A token cannot mint or revoke tokens: a leaked token must not outlive its revocation.
    """

    message = "Manage API tokens from a signed-in browser session, not with a token."

    def has_permission(self, request, view):
        return isinstance(request.successful_authenticator, SessionAuthentication)
