"""factory_boy factories shared by the suite. Append yours below (one block per
app, keep it merge-friendly)."""

import factory
from django.utils import timezone

# --- accounts -----------------------------------------------------------------
DEFAULT_PASSWORD = "a-Strong-pass-2026"


class UserFactory(factory.django.DjangoModelFactory):
    """A verified customer; ``email_verified_at=None`` for an unverified one.
    The password is DEFAULT_PASSWORD unless given."""

    class Meta:
        model = "accounts.User"
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.ug")
    full_name = factory.Faker("name")
    email_verified_at = factory.LazyFunction(timezone.now)
    password = factory.django.Password(DEFAULT_PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        """``UserFactory(roles=["deposit_reviewer"])``; customers by default."""
        if not create:
            return
        from django.contrib.auth.models import Group

        from accounts.roles import CUSTOMER, ensure_roles

        ensure_roles()
        for name in extracted if extracted is not None else [CUSTOMER]:
            self.groups.add(Group.objects.get(name=name))
