from decimal import Decimal

import pytest
from django.db import connection

from dtexchange import field_encryption
from payments.models import AppendOnlyError, BankDeposit, DepositDecision, MobileMoneyPayment
from payments.phone import msisdn_parse
from payments.services import mobile_money_payment_create


@pytest.mark.django_db
def test_phone_numbers_are_encrypted_at_rest_and_found_by_keyed_hash(customer):
    number = msisdn_parse(value="0771234567")
    payment = mobile_money_payment_create(
        direction="collection",
        user=customer,
        msisdn=number,
        amount=Decimal("5000"),
        currency="UGX",
        submit=False,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT msisdn, msisdn_hash FROM payments_mobilemoneypayment WHERE id = %s",
            [payment.pk],
        )
        stored, stored_hash = cursor.fetchone()
    assert "771234567" not in stored
    assert "771234567" not in stored_hash
    assert MobileMoneyPayment.objects.get(pk=payment.pk).msisdn == "+256771234567"
    found = MobileMoneyPayment.objects.get(
        msisdn_hash=field_encryption.lookup_hash("+256771234567")
    )
    assert found.pk == payment.pk
    assert 8 <= len(payment.reference) <= 36


def test_rotated_keys_still_decrypt_old_data(settings):
    settings.FIELD_ENCRYPTION_KEY = "old-secret"
    token = field_encryption.encrypt("+256771234567")
    settings.FIELD_ENCRYPTION_KEY = "new-secret,old-secret"
    assert field_encryption.decrypt(token) == "+256771234567"
    settings.FIELD_ENCRYPTION_KEY = "someone-elses-secret"
    with pytest.raises(ValueError, match="Cannot decrypt"):
        field_encryption.decrypt(token)


def test_lookup_hash_is_keyed(settings):
    settings.FIELD_ENCRYPTION_KEY = "one"
    first = field_encryption.lookup_hash("+256771234567")
    assert first == field_encryption.lookup_hash("+256771234567")
    settings.FIELD_ENCRYPTION_KEY = "two"
    assert field_encryption.lookup_hash("+256771234567") != first


@pytest.mark.django_db
def test_deposit_decisions_cannot_be_changed_or_deleted(customer):
    deposit = BankDeposit.objects.create(
        user=customer,
        reference_code="DTX-ABCD-EFGH",
        expected_amount=Decimal("100000"),
        currency="UGX",
    )
    decision = DepositDecision.objects.create(
        deposit=deposit,
        decision="rejected",
        actor=customer,
        actor_email=customer.email,
        reason="No such transfer on the statement",
        expected_amount=deposit.expected_amount,
        currency="UGX",
    )
    decision.reason = "rewritten"
    with pytest.raises(AppendOnlyError):
        decision.save()
    with pytest.raises(AppendOnlyError):
        decision.delete()
    assert DepositDecision.objects.get().reason == "No such transfer on the statement"


@pytest.mark.django_db
def test_the_database_refuses_to_rewrite_decisions_even_in_bulk(customer):
    from django.db import DatabaseError, transaction

    deposit = BankDeposit.objects.create(
        user=customer,
        reference_code="DTX-WXYZ-2345",
        expected_amount=Decimal("100000"),
        currency="UGX",
    )
    DepositDecision.objects.create(
        deposit=deposit,
        decision="rejected",
        actor=customer,
        actor_email=customer.email,
        reason="not found",
        expected_amount=deposit.expected_amount,
        currency="UGX",
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        DepositDecision.objects.update(reason="rewritten")
    with pytest.raises(DatabaseError), transaction.atomic():
        DepositDecision.objects.all()._raw_delete(DepositDecision.objects.db)
    assert DepositDecision.objects.get().reason == "not found"
