"""Sign-in, failed sign-in and sign-out, from Django's auth signals (admin and GitHub alike)."""
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from . import record
from .models import Action, Outcome


@receiver(user_logged_in)
def signed_in(sender, request, user, **kwargs):
    record(Action.SIGN_IN, request=request, actor=user)


@receiver(user_login_failed)
def sign_in_failed(sender, credentials, request=None, **kwargs):
    # Django has already masked anything secret in `credentials`; keep only the name tried.
    attempted = str(credentials.get("username", ""))[:150]
    record(Action.SIGN_IN_FAILED, request=request, outcome=Outcome.DENIED, extra={"username": attempted})


@receiver(user_logged_out)
def signed_out(sender, request, user, **kwargs):
    if user is not None:
        record(Action.SIGN_OUT, request=request, actor=user)
