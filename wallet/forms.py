"""The site's withdrawal forms (shape only; the services decide)."""

from django import forms

from wallet.models import Withdrawal


class WithdrawalForm(forms.Form):
    currency = forms.ChoiceField(choices=[("UGX", "UGX"), ("USD", "USD")])
    amount = forms.DecimalField(min_value=0, max_digits=38, decimal_places=18, label="Amount")
    method = forms.ChoiceField(
        choices=Withdrawal.Method.choices, widget=forms.RadioSelect, label="To"
    )
    phone_number = forms.CharField(
        required=False, max_length=32, label="Mobile money number (MTN or Airtel)"
    )
    bank_name = forms.CharField(required=False, max_length=100, label="Bank")
    account_name = forms.CharField(required=False, max_length=150, label="Account name")
    account_number = forms.CharField(required=False, max_length=40, label="Account number")

    def destination(self) -> dict:
        data = self.cleaned_data
        if data["method"] == Withdrawal.Method.MOBILE_MONEY:
            return {"phone_number": data["phone_number"]}
        return {k: data[k] for k in ("bank_name", "account_name", "account_number")}


class CodeForm(forms.Form):
    code = forms.CharField(
        min_length=6,
        max_length=6,
        label="6-digit code",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )
