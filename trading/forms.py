"""Forms of the customer site's trade pages. They check shape only; the
trading services check meaning (limits, precision, balances, methods)."""

from django import forms

from ledger.money import CRYPTO_CODES, CURRENCIES, DECIMAL_PLACES, FIAT_CODES, MAX_DIGITS
from trading import payment_methods

TRADE_TYPES = [("buy", "Buy"), ("sell", "Sell")]
STATUSES = [
    ("", "Any status"),
    ("pending", "Waiting"),
    ("processing", "Processing"),
    ("completed", "Completed"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
    ("expired", "Expired"),
]


def _coin_choices():
    return [(code, f"{CURRENCIES[code].name} ({code})") for code in CRYPTO_CODES]


def _fiat_choices():
    return [(code, f"{CURRENCIES[code].name} ({code})") for code in FIAT_CODES]


class TradeForm(forms.Form):
    """The trade page: what to trade, how much, how to pay or be paid."""

    trade_type = forms.ChoiceField(choices=TRADE_TYPES, initial="buy", widget=forms.RadioSelect)
    crypto_currency = forms.ChoiceField(label="Coin", choices=_coin_choices, initial="BTC")
    fiat_currency = forms.ChoiceField(label="Currency", choices=_fiat_choices, initial="UGX")
    amount = forms.DecimalField(
        label="Amount",
        max_digits=MAX_DIGITS,
        decimal_places=DECIMAL_PLACES,
        min_value=0,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        error_messages={"required": "Enter an amount.", "invalid": "Enter a number."},
    )
    payment_method = forms.ChoiceField(label="Payment method", widget=forms.RadioSelect)
    phone_number = forms.CharField(
        label="Mobile money number",
        required=False,
        max_length=32,
        widget=forms.TextInput(
            attrs={
                "type": "tel",
                "inputmode": "tel",
                "autocomplete": "tel",
                "placeholder": "077 123 4567",
            }
        ),
    )
    # Selling by mobile money: one of the seller's confirmed payout numbers
    # (by id; the view turns it into the number), else the one typed below.
    payout_number = forms.ChoiceField(
        label="Pay out to",
        required=False,
        error_messages={
            "invalid_choice": "That number is not one of your confirmed payout numbers now: "
            "choose another or add one in Settings."
        },
    )
    voucher_code = forms.CharField(
        label="Voucher code",
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    from_currency = forms.ChoiceField(
        label="Pay with coin", required=False, choices=[("", "Choose a coin"), *_coin_choices()]
    )
    # Carried from the review step to the confirm step.
    quote_id = forms.UUIDField(required=False, widget=forms.HiddenInput)
    idempotency_key = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, payout_choices: list[tuple[str, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["payment_method"].choices = [
            (m.code, m.name) for m in payment_methods.all_methods()
        ]
        self.fields["payout_number"].choices = [
            *payout_choices,
            ("", "Another number (type it below)"),
        ]
        if payout_choices and "payout_number" not in self.initial:
            self.initial["payout_number"] = payout_choices[0][0]

    def payout_to(self) -> str:
        """A sale to a saved payout number: its id, else ""."""
        data = self.cleaned_data
        if data.get("trade_type") == "sell" and data.get("payment_method") == "mobile_money":
            return data.get("payout_number") or ""
        return ""

    def clean(self):
        cleaned = super().clean()
        amount = cleaned.get("amount")
        if amount is not None and amount <= 0:
            self.add_error("amount", "Enter an amount above zero.")
        code = cleaned.get("payment_method")
        selling = cleaned.get("trade_type") == "sell"
        if code == "mobile_money" and selling and cleaned.get("payout_number"):
            if cleaned.get("phone_number"):
                self.add_error(
                    "phone_number",
                    "Choose one of your payout numbers or type a number, not both.",
                )
        elif code == "mobile_money" and not cleaned.get("phone_number"):
            self.add_error(
                "phone_number",
                "Choose one of your payout numbers or type the number to be paid at."
                if selling
                else "Enter the mobile money number to use.",
            )
        if code == "voucher" and not cleaned.get("voucher_code"):
            self.add_error("voucher_code", "Enter the code printed on your voucher.")
        if code == "crypto" and not cleaned.get("from_currency"):
            self.add_error("from_currency", "Choose the coin to pay with.")
        return cleaned

    def payment_details(self) -> dict:
        """Only the fields the chosen method needs."""
        data = self.cleaned_data
        code = data["payment_method"]
        if code == "mobile_money":
            return {"phone_number": data["phone_number"]}
        if code == "voucher":
            return {"voucher_code": data["voucher_code"].strip()}
        if code == "crypto":
            return {"from_currency": data["from_currency"]}
        return {}


class HistoryFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=STATUSES)
    trade_type = forms.ChoiceField(
        label="Type", required=False, choices=[("", "Buys and sells"), *TRADE_TYPES]
    )
    crypto_currency = forms.ChoiceField(
        label="Coin", required=False, choices=[("", "Any coin"), *_coin_choices()]
    )
    payment_method = forms.ChoiceField(label="Method", required=False)
    page = forms.IntegerField(required=False, min_value=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["payment_method"].choices = [
            ("", "Any method"),
            *((m.code, m.name) for m in payment_methods.all_methods()),
        ]
